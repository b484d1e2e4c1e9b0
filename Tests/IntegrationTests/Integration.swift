// CaptureDeck's integration tests: the real `capdeck` binary, the real ALSA library (file PCMs
// over `null` and over a real PulseAudio daemon), and recordings read back through libsndfile.
//
// Every suite nests in this one, so the whole target runs one test at a time: the real-time
// tests measure wall-clock time on a 2-core machine, and subprocesses would compete.
import Testing

@Suite(.serialized)
enum Integration {}
