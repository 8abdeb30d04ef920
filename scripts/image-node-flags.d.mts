export function imageNodeFlags(): string[];
