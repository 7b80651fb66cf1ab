export declare function buildConsole(options?: { outdir?: string; minify?: boolean }): Promise<Record<string, number>>;
