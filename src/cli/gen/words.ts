// Word lists for generated data: invented people, the historical file's twelve departments and
// job titles in its style. Plain ASCII and no commas, as in the historical files.

// prettier-ignore
export const FIRST_NAMES = [
  'Harold', 'Ty', 'Lyman', 'Lotti', 'Gretna', 'Marlie', 'Ann', 'Bob', 'Cirstoforo', 'Thia', 'Ludvig', 'Beltran',
  'Adela', 'Bertram', 'Carmina', 'Dorian', 'Elva', 'Fitz', 'Gisela', 'Hamish', 'Ines', 'Jorah', 'Kaja', 'Leopold',
  'Maren', 'Nils', 'Oona', 'Piers', 'Quinta', 'Rafe', 'Sunniva', 'Tobiah', 'Ulla', 'Viggo', 'Wren', 'Xanthe',
  'Yusuf', 'Zelda', 'Amara', 'Benedikt', 'Celeste', 'Dmitri', 'Esme', 'Florian', 'Greta', 'Hugo', 'Ilse', 'Jasper',
  'Katarina', 'Lorcan', 'Mirela', 'Nadia', 'Osric', 'Paloma', 'Rosalind', 'Silas', 'Tamsin', 'Uriel', 'Valentina',
  'Wendell', 'Yara', 'Zeno', 'Agathe', 'Bastian', 'Cosima', 'Darragh', 'Elodie', 'Frederik', 'Gwendolyn', 'Henrik',
  'Isolde', 'Joaquin', 'Kenji', 'Liesel', 'Matteo', 'Noor', 'Orla', 'Pascal', 'Ramona', 'Soren', 'Thea', 'Ulrich',
  'Vesna', 'Wilhelmina', 'Ximena', 'Yannick', 'Zuzana', 'Anouk', 'Bram', 'Clemence', 'Daan', 'Eero', 'Freya',
  'Gustavo', 'Hedda', 'Ivo', 'Jolene', 'Kasimir', 'Linnea', 'Magnus', "D'Arcy", 'Mary-Kate',
];

// prettier-ignore
export const LAST_NAMES = [
  'Vogt', 'Hofer', 'Hadye', 'Crowthe', 'Lording', 'Morican', 'Norwood', 'Martinetto', 'Natte', 'Abernathy', 'Bellweather',
  'Castellanos', 'Drummond', 'Eriksen', 'Fairweather', 'Galloway', 'Halvorsen', 'Ingram', 'Jablonski', 'Kowalczyk',
  'Lindqvist', 'Montgomery', 'Nakashima', 'Okonkwo', 'Pemberton', 'Quist', 'Rasmussen', 'Sandoval', 'Thorburn',
  'Underhill', 'Vasquez', 'Whitlock', 'Yilmaz', 'Zimmermann', 'Achterberg', 'Blackwood', 'Cardenas', 'Delacroix',
  'Eastwood', 'Fennimore', 'Grimaldi', 'Holloway', 'Iwasaki', 'Jorgensen', 'Kincaid', 'Lacroix', 'Mendelssohn',
  'Nightingale', 'Oyelaran', 'Prendergast', 'Quintero', 'Rothschild', 'Stavros', 'Trevelyan', 'Umberto', 'Valdivia',
  'Wakefield', 'Xu', 'Yardley', 'Zamora', 'Ashworth', 'Brannigan', 'Cromwell', 'Dunmore', 'Ellsworth', 'Foxley',
  'Gunderson', 'Hargreaves', 'Ishikawa', 'Jansen', 'Kurosawa', 'Lowther', 'Macallister', 'Nordstrom', 'Oakes',
  'Pacheco', 'Radcliffe', 'Sutherland', 'Tennant', 'Ulvaeus', 'Vanterpool', 'Westergaard', "O'Malley", 'Smith-Jones',
];

// prettier-ignore
export const DEPARTMENTS = [
  'Product Management', 'Sales', 'Research and Development', 'Business Development', 'Engineering', 'Human Resources',
  'Services', 'Support', 'Marketing', 'Training', 'Legal', 'Accounting',
];

/** 61 roles × 3 grades = the 183 jobs of the historical file. */
// prettier-ignore
const ROLES = [
  'Marketing Assistant', 'VP Sales', 'Biostatistician', 'Account Representative', 'VP Marketing', 'Environmental Specialist',
  'Software Consultant', 'Office Assistant', 'Information Systems Manager', 'Desktop Support Technician', 'Financial Advisor',
  'Computer Systems Analyst', 'Automation Specialist', 'Help Desk Technician', 'VP Quality Control', 'Financial Analyst',
  'Electrical Engineer', 'Chemical Engineer', 'Social Worker', 'VP Product Management', 'Administrative Officer', 'Paralegal',
  'Actuary', 'Database Administrator', 'Nuclear Power Engineer', 'GIS Technical Architect', 'Human Resources Assistant',
  'Marketing Manager', 'Structural Engineer', 'General Manager', 'Chief Design Engineer', 'Quality Engineer', 'Pharmacist',
  'Accounting Assistant', 'Web Developer', 'Assistant Manager', 'Budget Analyst', 'Civil Engineer', 'Cost Accountant',
  'Data Coordinator', 'Design Engineer', 'Developer', 'Editor', 'Engineer', 'Food Chemist', 'Geological Engineer',
  'Graphic Designer', 'Health Coach', 'Internal Auditor', 'Junior Executive', 'Legal Assistant', 'Mechanical Systems Engineer',
  'Nurse Practicioner', 'Operator', 'Programmer Analyst', 'Recruiter', 'Research Nurse', 'Safety Technician', 'Sales Associate',
  'Statistician', 'Tax Accountant',
];

export const JOBS = ['', ' II', ' IV'].flatMap((grade) => ROLES.map((role) => `${role}${grade}`));
