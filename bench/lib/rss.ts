// Resident memory of a process from /proc/<pid>/status: VmRSS now and VmHWM (the kernel's peak).
// The peak is reset before a measurement by writing 5 to /proc/<pid>/clear_refs (Linux ≥ 4.0),
// so start-up does not count; the sampler also keeps its own max of VmRSS as a cross-check.
import { readFileSync, writeFileSync } from 'node:fs';

export interface MemoryReading {
  readonly rssKiB: number;
  readonly hwmKiB: number;
}

export function readMemory(pid: number): MemoryReading | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS counter; false when the kernel refused. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface PeakSampler {
  /** Stops sampling; the peak in MiB (max of VmHWM and the sampled VmRSS) and the last RSS. */
  stop(): { peakMiB: number; sampledPeakMiB: number; lastMiB: number; samples: number };
}

export function samplePeak(pid: number, everyMs = 25): PeakSampler {
  const reset = resetPeak(pid);
  let sampled = 0;
  let last = 0;
  let samples = 0;
  const tick = () => {
    const m = readMemory(pid);
    if (!m) return;
    samples++;
    last = m.rssKiB;
    sampled = Math.max(sampled, m.rssKiB);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      const hwm = reset ? (readMemory(pid)?.hwmKiB ?? 0) : 0;
      return { peakMiB: Math.max(hwm, sampled) / 1024, sampledPeakMiB: sampled / 1024, lastMiB: last / 1024, samples };
    },
  };
}
