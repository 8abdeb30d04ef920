// What `mutate` can print, apart from the command itself: the CLI lists these in its help without
// loading the command (and its YAML parser) until it runs.
export const OUTPUTS = ['review', 'patch', 'pod'] as const;
export type Output = (typeof OUTPUTS)[number];
export const FORMATS = ['json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];
