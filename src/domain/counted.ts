/** `counted(1, 'record')` → `1 record`, `counted(3, 'record')` → `3 records`: the messages' counts. */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
