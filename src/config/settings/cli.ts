import { url } from '../types.js'

/** Settings of the operations commands that talk to a running service. */
export const cli = {
  apiUrl: url({
    flag: 'api-url',
    env: 'TPIPE_API_URL',
    description: 'Base URL of apigw for `tpipe gpus …` (host:port works too). Unset: the apigw of the `tpipe dev` running on TPIPE_HOME, else the default.',
    scopes: ['cli'],
    default: 'http://localhost:8080',
    hostPort: true,
  }),
} as const
