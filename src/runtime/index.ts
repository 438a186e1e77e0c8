/**
 * runtime/ — what a process needs to run: the configuration (config/, one zod schema of the
 * environment), the context that wires connections and stores together (context.ts), the logger,
 * the clock, start-up and shutdown (boot.ts), the embedded Redis of `npm start`, CPU priority.
 *
 * May import: core/, engine/, db/, stores/, runtime/. May not import: jobs/ or api/, which are
 * built on it (checked by `npm run lint`, .dependency-cruiser.cjs).
 *
 * This file names the folder's main entry points; import from the modules themselves.
 */
export { loadConfig, type Config } from './config.js';
export { createContext, type AppContext } from './context.js';
export { bootConfig, onShutdown, openContext } from './boot.js';
