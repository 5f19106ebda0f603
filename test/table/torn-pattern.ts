/** Host written with each port in the torn-read test: length and content both depend on the port. */
export function expectedHost (port: number): string {
  return `p${port}.` + 'x'.repeat(port % 80)
}
