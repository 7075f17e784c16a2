// Types of dist-freshness.mjs for the TypeScript that imports it (src/testing/processes.ts).
export declare const builtFiles: string[];
export declare function distIsFresh(root: string): boolean;
