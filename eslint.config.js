import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Import rules: which folder may depend on which (test/import-rules.test.ts checks they bite).
//   services never import src/cluster/ (the CLI's `tpipe up|down|scale|status`), src/local/ (`tpipe dev`),
//   commands/ or another service's folder: what they share lives in src/kube/, src/protocol/, src/util/…
//   src/kube/ is the one layer over the Kubernetes API (services, the controller and the CLI use it);
//   nothing in src/ imports commands/, test support (test/) or the benchmark suite (bench/): src/ is
//   what the package ships.
const SERVICES = ['mqwriter', 'mqreader', 'collector', 'streamer', 'apigw', 'controller', 'scraper', 'dcgmsim']
const folder = (name) => [`**/${name}/*`, `**/${name}`]
const NOT_SHIPPED = { group: [...folder('commands'), ...folder('test'), ...folder('bench')], message: 'src/ is what the package ships: it must not import commands/, test support (test/) or bench/.' }
const restrict = (...patterns) => ['error', { patterns }]

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tpipe-test/**', 'bench/results/**', 'charts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  { files: ['bin/**/*.js', 'scripts/**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  // Everything in src/ (tests beside the code may use test support).
  { files: ['src/**/*.ts'], ignores: ['src/**/*.test.ts'], rules: { 'no-restricted-imports': restrict(NOT_SHIPPED) } },
  { files: ['src/**/*.test.ts'], rules: { 'no-restricted-imports': restrict({ group: [...folder('commands'), ...folder('bench')], message: 'src/ must not import commands/ or bench/.' }) } },
  // Each service: no CLI layers, no other service. (Its tests may start another service, e.g. a collector
  // test publishing through a real mqwriter, but still never reach into the CLI layers.)
  ...SERVICES.flatMap((service) => {
    const cli = { group: [...folder('cluster'), ...folder('local'), ...folder('commands')], message: `a service (${service}) must not import the CLI's layers (src/cluster/, src/local/, commands/): cluster access is src/kube/.` }
    const others = { group: SERVICES.filter((s) => s !== service).flatMap(folder), message: `a service (${service}) must not import another service's folder: shared definitions live in src/protocol/, src/kube/, src/util/…` }
    return [
      { files: [`src/${service}/**/*.ts`], ignores: [`src/${service}/**/*.test.ts`], rules: { 'no-restricted-imports': restrict(cli, others, NOT_SHIPPED) } },
      { files: [`src/${service}/**/*.test.ts`], rules: { 'no-restricted-imports': restrict(cli, { group: [...folder('commands'), ...folder('bench')], message: 'tests beside the code must not import commands/ or bench/.' }) } },
    ]
  }),
  // The kube layer sits below everything that uses it.
  {
    files: ['src/kube/**/*.ts'],
    ignores: ['src/kube/**/*.test.ts'],
    rules: {
      'no-restricted-imports': restrict(
        { group: [...SERVICES.flatMap(folder), ...folder('cluster'), ...folder('local'), ...folder('cli')], message: 'src/kube/ is used by services, the controller and the CLI; it imports none of them (CLI wording lives in src/cli/).' },
        NOT_SHIPPED,
      ),
    },
  },
)
