/** A small markdown writer for bench/RESULTS.md: headings, paragraphs, tables, code. */
export class Markdown {
  private readonly parts: string[] = [];

  heading(level: number, text: string): this {
    this.parts.push(`${'#'.repeat(level)} ${text}`);
    return this;
  }

  para(...lines: string[]): this {
    this.parts.push(lines.join('\n'));
    return this;
  }

  bullets(items: readonly string[]): this {
    if (items.length > 0) this.parts.push(items.map((i) => `- ${i}`).join('\n'));
    return this;
  }

  table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): this {
    const cell = (c: string | number): string => String(c).replace(/\|/g, '\\|').replace(/\n/g, ' ');
    const lines = [`| ${header.map(cell).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
    this.parts.push(lines.join('\n'));
    return this;
  }

  code(text: string, lang = ''): this {
    this.parts.push(`\`\`\`${lang}\n${text.replace(/\n$/, '')}\n\`\`\``);
    return this;
  }

  toString(): string {
    return `${this.parts.join('\n\n')}\n`;
  }
}
