/** "1 epoch", "2 epochs", "0 epochs": a count with its noun in the singular only for exactly one. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}
