// placeholder so core compiles until the CAS lands
export declare class Cas { constructor(dir: string); readonly dir: string }
