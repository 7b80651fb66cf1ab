export declare const consoleAssetDir: string;
export declare const consoleIsBuilt: () => boolean;
