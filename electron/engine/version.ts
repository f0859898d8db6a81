// The engine's version in a module of its own: the CLI prints it (`--version`, help) without
// loading the engine or the contract's schemas.

/** the engine's version: engine.info, and the archives `flotilla export` writes */
export const ENGINE_VERSION = '0.1.0';
