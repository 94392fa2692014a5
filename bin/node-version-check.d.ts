// Types of node-version-check.js (plain JavaScript: it must parse on any Node to give its message).
export declare const NODE_MAJOR_NEEDED: number;
export declare function nodeTooOld(program: string, version: string): string | undefined;
