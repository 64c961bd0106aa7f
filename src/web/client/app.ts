// The page shell the views share: routing (#/, #/gpu/<id>, #/host/<name>), the live-refresh loop, the
// status line, the error banner ("API unreachable", kept until a request succeeds again) and the token
// prompt when apigw asks for a read token.
import { ApiFailure, getToken, setToken } from './api.js'
import { $, esc, timeText } from './dom.js'

export interface View {
  dispose(): void
  /** The colour scheme changed: redraw charts with the new colours. */
  restyle?(): void
}

export interface Ctx {
  main: HTMLElement
  params: URLSearchParams
  /** Runs load now and then every refresh interval (never two at once); stops when the view goes. */
  live(load: (signal: AbortSignal) => Promise<void>): void
  /** Replaces the hash's query without re-routing (filters, ranges), so the URL can be shared. */
  setParams(params: URLSearchParams): void
  /** Shows the last successful update time in the status line. */
  loaded(): void
  /** A failed load: banner or token prompt. */
  failed(err: unknown): void
  /** Loads again now (a range or filter that needs new data changed). */
  reload(): void
  /** Called by the view when it goes (timers, aborts). */
  onDispose(fn: () => void): void
}

export type ViewFactory = (ctx: Ctx, arg: string) => View

const REFRESH_KEY = 'tpipe.refreshSeconds'
export const REFRESH_CHOICES = [0, 2, 5, 10, 30, 60] as const

export function refreshSeconds(): number {
  const v = Number(localStorage.getItem(REFRESH_KEY) ?? '10')
  return (REFRESH_CHOICES as readonly number[]).includes(v) ? v : 10
}

interface Route {
  view: ViewFactory
  arg: string
  params: URLSearchParams
}

export class Shell {
  private current: { view: View; disposers: (() => void)[] } | undefined
  private wake: (() => void) | undefined
  private readonly banner = $(document, '#banner')
  private readonly status = $(document, '#status')
  private readonly main = $(document, '#main')
  private lastOk: Date | undefined

  constructor(private readonly routes: { fleet: ViewFactory; gpu: ViewFactory; host: ViewFactory }) {}

  start(): void {
    window.addEventListener('hashchange', () => this.route())
    const select = $<HTMLSelectElement>(document, '#refresh')
    select.value = String(refreshSeconds())
    select.addEventListener('change', () => {
      localStorage.setItem(REFRESH_KEY, select.value)
      this.wake?.()
    })
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.current?.view.restyle?.())
    this.route()
  }

  private parse(): Route {
    const hash = location.hash.replace(/^#\/?/, '')
    const [path = '', query = ''] = hash.split('?')
    const params = new URLSearchParams(query)
    const [kind, ...rest] = path.split('/')
    const arg = decodeURIComponent(rest.join('/'))
    if (kind === 'gpu' && arg) return { view: this.routes.gpu, arg, params }
    if (kind === 'host' && arg) return { view: this.routes.host, arg, params }
    return { view: this.routes.fleet, arg: '', params }
  }

  route(): void {
    if (this.current) {
      for (const d of this.current.disposers) d()
      this.current.view.dispose()
    }
    this.wake = undefined
    const r = this.parse()
    const disposers: (() => void)[] = []
    const path = location.hash.split('?')[0] || '#/'
    this.main.replaceChildren()
    const ctx: Ctx = {
      main: this.main,
      params: r.params,
      live: (load) => disposers.push(this.loop(load)),
      setParams: (p) => {
        const q = p.toString()
        history.replaceState(null, '', `${path}${q ? `?${q}` : ''}`)
      },
      loaded: () => this.ok(),
      failed: (err) => this.fail(err),
      onDispose: (fn) => disposers.push(fn),
      reload: () => this.wake?.(),
    }
    this.current = { view: r.view(ctx, r.arg), disposers }
    document.querySelectorAll('nav a').forEach((a) => a.toggleAttribute('aria-current', a.getAttribute('href') === '#/' && r.view === this.routes.fleet))
  }

  private loop(load: (signal: AbortSignal) => Promise<void>): () => void {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let ctrl: AbortController | undefined
    let generation = 0
    // A wake (range change) while a load is in flight aborts it: only the newest load may schedule the next.
    const run = async () => {
      clearTimeout(timer)
      ctrl?.abort()
      if (stopped) return
      const mine = ++generation
      ctrl = new AbortController()
      this.status.classList.add('busy')
      try {
        await load(ctrl.signal)
      } catch (err) {
        if ((err as Error).name !== 'AbortError' && mine === generation && !stopped) this.fail(err)
      }
      if (stopped || mine !== generation) return
      this.status.classList.remove('busy')
      const s = refreshSeconds()
      // Unreachable: keep trying (every 5 s at least) so the page recovers by itself.
      const next = s > 0 ? s : this.banner.hidden ? 0 : 5
      if (next > 0) timer = setTimeout(run, next * 1000)
      this.showStatus()
    }
    this.wake = () => void run()
    void run()
    return () => {
      stopped = true
      clearTimeout(timer)
      ctrl?.abort()
    }
  }

  private showStatus(): void {
    const s = refreshSeconds()
    const when = this.lastOk ? `updated ${timeText(this.lastOk)}` : 'not loaded yet'
    this.status.textContent = `${when}${s ? ` · live, every ${s} s` : ' · live refresh off'}`
  }

  private ok(): void {
    this.lastOk = new Date()
    if (!this.banner.hidden && this.banner.dataset.kind !== 'token') {
      this.banner.hidden = true
      this.banner.dataset.kind = ''
      this.banner.replaceChildren()
    }
    document.body.classList.remove('stale')
    this.showStatus()
  }

  private fail(err: unknown): void {
    if (err instanceof ApiFailure && err.kind === 'unauthorized') return this.askToken(err)
    const unreachable = err instanceof ApiFailure && err.kind === 'unreachable'
    const msg = err instanceof Error ? err.message : String(err)
    this.banner.dataset.kind = unreachable ? 'unreachable' : 'error'
    this.banner.innerHTML = unreachable
      ? `<strong>API unreachable.</strong> ${esc(msg)}. ${this.lastOk ? `Showing data from ${esc(timeText(this.lastOk))}; ` : ''}retrying automatically.`
      : `<strong>Request failed.</strong> ${esc(msg)}`
    this.banner.hidden = false
    if (unreachable) document.body.classList.add('stale')
  }

  private askToken(err: ApiFailure): void {
    if (this.banner.dataset.kind === 'token') return
    this.banner.dataset.kind = 'token'
    const rejected = err.status === 403 || getToken() !== null
    this.banner.innerHTML = `<form class="token" id="token-form">
      <p><strong>This apigw needs a read token</strong> (TPIPE_API_TOKEN).${rejected ? ' The token given was not accepted.' : ''}
      It is kept in this tab only (sessionStorage).</p>
      <label for="token-input">API token</label>
      <input id="token-input" type="password" autocomplete="off" required>
      <button type="submit">Use token</button></form>`
    this.banner.hidden = false
    const input = $<HTMLInputElement>(this.banner, '#token-input')
    input.focus()
    $(this.banner, '#token-form').addEventListener('submit', (e) => {
      e.preventDefault()
      setToken(input.value.trim() || null)
      this.banner.hidden = true
      this.banner.dataset.kind = ''
      this.banner.replaceChildren()
      this.route()
    })
  }
}
