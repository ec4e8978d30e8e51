-- The three tables of the data dictionary as they were first created, frozen: later columns
-- come in later migrations, so a fresh database and an old one meet the same version 1.
CREATE TABLE "departments" (
  "id" INTEGER PRIMARY KEY,
  "department" TEXT
);

CREATE TABLE "jobs" (
  "id" INTEGER PRIMARY KEY,
  "job" TEXT
);

CREATE TABLE "hired_employees" (
  "id" INTEGER PRIMARY KEY,
  "name" TEXT,
  "datetime" TEXT,
  "department_id" INTEGER,
  "job_id" INTEGER
);

CREATE INDEX "hired_employees_datetime_idx" ON "hired_employees" ("datetime");

CREATE INDEX "hired_employees_department_id_idx" ON "hired_employees" ("department_id");

CREATE INDEX "hired_employees_job_id_idx" ON "hired_employees" ("job_id");
