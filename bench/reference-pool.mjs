// What both references share: `cycles` cycles of `n` tasks, `concurrency` at a
// time, timed from inside the process. Prints one JSON line: per-cycle wall
// times, CPU per cycle, peak RSS.
export const runCycles = async (n, concurrency, cycles, task) => {
  const walls = []
  const cpus = []
  for (let c = 0; c < cycles; c++) {
    const cpu = process.cpuUsage()
    const start = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await task(next++) }))
    walls.push(performance.now() - start)
    const used = process.cpuUsage(cpu)
    cpus.push((used.user + used.system) / 1000)
  }
  console.log(JSON.stringify({ walls, cpus, peakMiB: process.resourceUsage().maxRSS / 1024 }))
}
