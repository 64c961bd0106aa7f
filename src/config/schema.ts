// One schema for every setting of every service and command. Each setting has a flag, a TPIPE_* env
// var and (where sensible) a default; the charts use the same names (tests check that). Nothing here
// reads the environment by itself: load.ts does, once, at the composition root.
import { apigw } from './settings/apigw.js'
import { cli } from './settings/cli.js'
import { collector } from './settings/collector.js'
import { common } from './settings/common.js'
import { controller } from './settings/controller.js'
import { mqreader } from './settings/mqreader.js'
import { mqwriter } from './settings/mqwriter.js'
import { security } from './settings/security.js'
import { scraper } from './settings/scraper.js'
import { streamer } from './settings/streamer.js'
import { telemetry } from './settings/telemetry.js'
import type { Setting } from './types.js'

export const SETTINGS = {
  ...common,
  ...security,
  ...mqwriter,
  ...mqreader,
  ...collector,
  ...telemetry,
  ...streamer,
  ...scraper,
  ...apigw,
  ...controller,
  ...cli,
} as const

export type SettingKey = keyof typeof SETTINGS
type ValueOf<S> = S extends Setting<infer T> ? T : never
/** A loaded configuration: settings with a default are always present; others may be undefined. */
export type Config = {
  readonly [K in SettingKey]: (typeof SETTINGS)[K] extends { default: unknown } ? ValueOf<(typeof SETTINGS)[K]> : ValueOf<(typeof SETTINGS)[K]> | undefined
}
