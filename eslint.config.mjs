// Lint: neostandard (standard style: no semicolons, a space before function parentheses) with
// its TypeScript rules, over the code that ships and the code that tests and measures it.
// `npm run lint` allows no warnings; .ci/run runs it after the typecheck.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    files: ['src/**/*.ts', 'workers/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['dist/**', 'node_modules/**', '.tap/**']
  }),
  {
    rules: {
      // `void promise` marks a promise whose failure is handled elsewhere (or cannot happen) as
      // deliberately not awaited, typescript-eslint's own idiom; as an expression it stays banned.
      'no-void': ['error', { allowAsStatement: true }],
      // uWebSockets.js names its native handles and functions in snake case (us_listen_socket).
      camelcase: ['error', { allow: ['^us_'] }]
    }
  }
]
