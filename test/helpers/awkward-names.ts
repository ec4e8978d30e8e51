/** Names COPY has to escape, or that must pass as they are. */
export const NAMES: (string | null)[] = [
  'Plain Name',
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  'bell\b form\f vtab\v',
  'ünïcødé 日本語 🎉',
  '',
  null,
  'x'.repeat(40),
  `${'long \\ with\ttabs\n'.repeat(20)}end`,
];
