/**
 * The file piscina loads in each proxy thread. Everything that runs inside a proxy thread lives
 * in src/worker/; this is only its entry point at the top level the design names.
 */
export { default } from '../src/worker/serve'
