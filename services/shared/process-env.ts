// Environment every service process starts with, under the caller's own: the constructs put it
// in each Deployment and the Dockerfile repeats it (ENV; a test keeps the two equal), so `npm run
// dev`, the tests and the benchmarks run the processes as they are shipped. Plain data: the
// constructs import it.
//
// MALLOC_ARENA_MAX=2: at most 2 glibc malloc arenas (glibc's default is 8 per core, and each
// allocating libvips thread can take one), so memory freed after an image is reused instead of
// kept in idle arenas: lower peak RSS (BENCHMARKS.md findings 12 and 30). glibc reads it when
// the process starts; it cannot be set from inside.
export const SERVICE_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
