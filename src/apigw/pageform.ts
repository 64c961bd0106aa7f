// Which form of the raw page statement a GPU's next page uses (sql.ts telemetryPageJson): `byTime`
// formats each distinct time once, which pays when a GPU's rows share times (a scrape or a remote_write
// sample set stamps all its metrics with one) and costs more than it saves when every row has its own
// time (the CSV streamer stamps rows one by one): on the api suite's table, −21% a page on the first
// shape, +20% on the second (bench/page-statement.ts). A GPU's shape is learnt from its byTime pages,
// which count the page's distinct times; a GPU whose rows do not share times is read row by row, and
// tried by time again every `retryAfter` pages, should its source have changed. The apigw keys what it
// learns by GPU and metric filter: one metric's rows of a GPU never share a time, all its metrics' may.

/** Fewer rows than this in a page say nothing about the GPU's shape. */
const MIN_ROWS = 16

export class PageForms {
  /** GPUs read row by row, with the pages left before the next try by time. */
  private readonly rowByRow = new Map<string, number>()

  /**
   * @param retryAfter pages read row by row before a GPU is tried by time again
   * @param maxGpus GPUs remembered (past it, every GPU is learnt again: memory stays bounded)
   */
  constructor(
    readonly retryAfter = 32,
    readonly maxGpus = 10_000,
  ) {}

  /** Whether the GPU's next page is read by time. */
  byTime(gpu: string): boolean {
    const left = this.rowByRow.get(gpu)
    if (left === undefined) return true
    if (left <= 1) this.rowByRow.delete(gpu)
    else this.rowByRow.set(gpu, left - 1)
    return false
  }

  /**
   * What a page read by time found: `rows` rows at `times` distinct times. Both count the row read past the
   * limit (to know whether a next page exists), which can bring a time of its own: a full page of 2 rows a
   * time is 1,001 rows at 501 times.
   */
  observe(gpu: string, rows: number, times: number): void {
    if (rows < MIN_ROWS) return
    if (rows + 1 >= 2 * times) {
      this.rowByRow.delete(gpu)
      return
    }
    if (this.rowByRow.size >= this.maxGpus) this.rowByRow.clear()
    this.rowByRow.set(gpu, this.retryAfter)
  }

  /** GPUs currently read row by row (tests, metrics). */
  get remembered(): number {
    return this.rowByRow.size
  }
}
