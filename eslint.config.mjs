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
      // standard's camelcase, plus uWebSockets.js's snake-case native names (us_listen_socket).
      camelcase: ['error', { allow: ['^UNSAFE_', '^us_'], properties: 'never', ignoreGlobals: true }]
    }
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Load loops run side by side and stop on a flag or counter that another async function
      // changes; the rule sees only the loop body and cannot know that.
      'no-unmodified-loop-condition': 'off'
    }
  }
]
