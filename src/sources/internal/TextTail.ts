/** Keeps the last `maxChars` characters written to it (e.g. a child's stderr); internal. */
export class TextTail {
  private text = '';

  constructor(private readonly maxChars = 4096) {}

  push(chunk: Buffer | string): void {
    this.text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.text.length > 2 * this.maxChars) this.text = this.text.slice(-this.maxChars);
  }

  /** The last `count` non-empty lines, joined by `\n`, at most `maxChars` long. */
  lastLines(count: number): string {
    const lines = this.text
      .slice(-this.maxChars)
      .split(/\r?\n|\r/)
      .map((line) => line.trimEnd())
      .filter((line) => line !== '');
    return lines.slice(-count).join('\n');
  }
}
