// Intentionally empty: libCapdeckPCMFaults.so is loaded with LD_PRELOAD, never imported.
// (SwiftPM wants a public header directory for a C target; see pcm_faults.c for the plan syntax.)
