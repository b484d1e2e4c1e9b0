# CaptureDeck — build, test, run and measure. `make run` and `make test` install what they need.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Build: ALSA, ncursesw, libsndfile headers. Tests and benchmarks: ALSA tools and plugins, a
# real PulseAudio daemon for real-time pacing, sox to read files back, tmux for the console;
# readers we didn't write check the files: ffprobe (ffmpeg), Python's wave (python3), flac -t, metaflac, mediainfo;
# PipeWire (with WirePlumber and a private session bus) beside PulseAudio, for the desktop tests;
# libdbus headers, which the build doesn't need, to check CDBus's own declarations against; a
# private session bus (dbus-daemon), a real MPRIS player (mpv with mpv-mpris) and playerctl for
# the other-audio interruption tests; dbus-python with GLib for the
# stand-in card holders of the device reservation tests (Tests/Support/reserve-holder.py); libebur128
# headers for the loudness meters (EBU R128); toml++ (header-only) for the config file; strace for
# make bench's start-up figures (the first read, timed alike for capdeck and arecord).
DEBS := pkg-config libasound2-dev libncursesw5-dev libsndfile1-dev libsamplerate0-dev libpulse-dev \
        alsa-utils libasound2-plugins pulseaudio pulseaudio-utils sox tmux procps time \
        ffmpeg python3 flac pipewire wireplumber libdbus-1-dev dbus mpv mpv-mpris playerctl \
        python3-dbus python3-gi mediainfo libebur128-dev libtomlplusplus-dev strace

.PHONY: deps build test run bench soak sanitize fuzz fuzz-build docs clean

deps:
	@missing=$$(for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# wavinfo (PyPI; Debian has no package, nor BWF MetaEdit) reads the bext chunk back in the tests.
	@python3 -c 'import wavinfo' 2>/dev/null || python3 -m pip install -q wavinfo

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

run: deps
	$(SWIFT) build -c release --product capdeck
	.build/release/capdeck $(ARGS)

# valgrind: instruction counts (scripts/bench-instructions.sh), steadier than CPU time here.
BENCH_DEBS := valgrind
# The packaged binary too (stage): its memory and start-up are what users get.
bench: deps stage
	@dpkg-query -W -f='$${Status}\n' $(BENCH_DEBS) 2>/dev/null | grep -q '^install ok installed' || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BENCH_DEBS) >/dev/null; }
	$(SWIFT) build -c release
	bash scripts/bench.sh

# Long runs (see scripts/soak.sh): kills, 24 h of audio, an hour of the console, CPU load, fuzzing,
# the sanitizers.
SOAK_DEBS := stress-ng
soak: deps fuzz-build
	@dpkg-query -W -f='$${Status}\n' $(SOAK_DEBS) 2>/dev/null | grep -q '^install ok installed' || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SOAK_DEBS) >/dev/null; }
	$(SWIFT) build -c release --product capdeck
	$(SWIFT) build -c release --product capdeck-bench
	bash scripts/soak.sh

# The whole suite, and the capdeck processes it starts, under AddressSanitizer, then ThreadSanitizer
# (.build-asan, .build-tsan; see scripts/sanitize.sh). SANITIZERS="address" or "thread" runs one.
sanitize: deps
	bash scripts/sanitize.sh

# libFuzzer over the config parser and recover's header analysis (FUZZ_SECONDS per target).
fuzz: deps fuzz-build
	$(SWIFT) build -c release --product capdeck
	bash scripts/fuzz.sh

fuzz-build:
	$(SWIFT) build -c release --scratch-path .build-fuzz --product capdeck-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xcxx -fsanitize=fuzzer-no-link

# The library products' documentation (DocC): CaptureDeck (its landing page and an article on its
# main types) and CaptureDeckAVFoundation (with its porting guide). The modules' symbol graphs come
# from one build in its own scratch path (.build-docs, so it never disturbs .build; building
# CaptureDeckAVFoundation builds CaptureDeck too), each converted with the toolchain's docc into
# .build-docs/MODULE.doccarchive (a static site). Every warning is printed and counted; one in a
# catalog (a broken link in a guide) fails, as any does with DOCS_STRICT=1.
DOCC ?= $(or $(shell command -v docc 2>/dev/null),/opt/swift/usr/bin/docc)
DOCS_DIR := .build-docs
DOCS_MODULES := CaptureDeck CaptureDeckAVFoundation
docs: deps
	@# A build whose graphs are gone would emit none (nothing to recompile): start it afresh.
	@for m in $(DOCS_MODULES); do [ -f $(DOCS_DIR)/symbol-graphs/$$m.symbols.json ] || { rm -rf $(DOCS_DIR); break; }; done
	$(SWIFT) build --scratch-path $(DOCS_DIR) --target CaptureDeckAVFoundation \
	  -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc $(CURDIR)/$(DOCS_DIR)/symbol-graphs
	@failed=0; for m in $(DOCS_MODULES); do \
	  graphs=$(DOCS_DIR)/module-graphs/$$m; log=$(DOCS_DIR)/docc-$$m.log; \
	  rm -rf $$graphs $(DOCS_DIR)/$$m.doccarchive && mkdir -p $$graphs && \
	  cp $(DOCS_DIR)/symbol-graphs/$$m.symbols.json $$graphs/ && \
	  { cp $(DOCS_DIR)/symbol-graphs/$$m@*.symbols.json $$graphs/ 2>/dev/null || true; } && \
	  $(DOCC) convert Sources/$$m/$$m.docc --additional-symbol-graph-dir $$graphs \
	    --output-path $(DOCS_DIR)/$$m.doccarchive \
	    --fallback-display-name $$m --fallback-bundle-identifier org.capdeck.$$m \
	    --ide-console-output $(if $(DOCS_STRICT),--warnings-as-errors) > $$log 2>&1; \
	  status=$$?; grep -E ': (warning|error):' $$log; \
	  warnings=$$(grep -c ': warning:' $$log); errors=$$(grep -c ': error:' $$log); \
	  catalog=$$(grep -E ': (warning|error):' $$log | grep -c '\.docc/'); \
	  echo "make docs: $$m: $$warnings warning(s), $$errors error(s), $$catalog of them in the catalog"; \
	  if [ $$status -ne 0 ]; then echo "make docs: $$m: docc failed (exit $$status); its log: $$log"; failed=1; \
	  elif [ $$catalog -ne 0 ]; then echo "make docs: $$m: fix the catalog's warnings above"; failed=1; \
	  else lower=$$(echo $$m | tr A-Z a-z); echo "make docs: $(DOCS_DIR)/$$m.doccarchive (serve it, open /documentation/$$lower)"; fi; \
	done; exit $$failed

clean:
	rm -rf .build .build-*

# The package (Docs/packaging.md). `make install` (PREFIX, default /usr/local; DESTDIR) installs the
# binary, its man pages, its bash, zsh and fish completions and the docs, and writes a manifest that
# `make uninstall` removes exactly; `make deb` builds .build-package/capdeck_VERSION_ARCH.deb with
# dpkg-deb; `make deb-test` installs that with apt in a fresh Debian root (debootstrap) and records
# there, and runs lintian (minutes: not part of `make test`, which checks the package's contents).
# The binary is a release build with the Swift runtime linked statically, in its own scratch path
# (.build-static, so it never disturbs .build), and no RUNPATH: it needs no toolchain. Bound at
# load (-z now) and the C++ in it (toml++, which reads the config file) built with _FORTIFY_SOURCE,
# as Debian's hardening asks. Linked by lld, for less resident memory (Docs/packaging.md): packed
# relative relocations (RELR, which bookworm's glibc reads), and the functions a take runs first and
# together (packaging/capdeck.order, made by scripts/order-file.sh).
PREFIX ?= /usr/local
DESTDIR ?=
STATIC_DIR := .build-static
PACKAGE_DIR := .build-package
# The pages' and completions' tests: groff and mandoc lint the pages, zsh and fish load the scripts,
# bash-completion is what loads ours on Debian; dpkg-dev's dpkg-shlibdeps gives Depends.
PACKAGE_DEBS := dpkg-dev groff mandoc man-db zsh fish bash-completion
DEBS += $(PACKAGE_DEBS)
# The package's own test: a clean Debian root, and Debian's package checker.
DEB_TEST_DEBS := debootstrap lintian

.PHONY: static stage man completions install uninstall deb deb-test

static: deps
	$(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath -Xlinker -z -Xlinker now \
	  -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs \
	  -Xlinker --symbol-ordering-file=$(CURDIR)/packaging/capdeck.order -Xlinker --no-warn-symbol-ordering \
	  -Xcxx -D_FORTIFY_SOURCE=2 --scratch-path $(STATIC_DIR) --product capdeck

stage: static
	bash scripts/stage.sh $(STATIC_DIR)/release/capdeck $(PACKAGE_DIR)/stage

# The pages and completion scripts alone, from the debug build (`man -l .build-package/man/capdeck.1`,
# `source .build-package/completions/capdeck`).
man: deps
	$(SWIFT) build --product capdeck
	python3 scripts/manpages.py --binary .build/debug/capdeck --out $(PACKAGE_DIR)/man
	@echo "make man: $(PACKAGE_DIR)/man (read one with man -l $(PACKAGE_DIR)/man/capdeck.1)"

completions: deps
	$(SWIFT) build --product capdeck
	bash scripts/completions.sh .build/debug/capdeck $(PACKAGE_DIR)/completions

install: stage
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) bash scripts/install.sh install $(PACKAGE_DIR)/stage

uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) bash scripts/install.sh uninstall

deb: stage
	bash scripts/deb.sh $(PACKAGE_DIR)/stage $(PACKAGE_DIR)

deb-test: deb
	@dpkg-query -W -f='$${Status}\n' $(DEB_TEST_DEBS) 2>/dev/null | grep -c '^install ok installed' | grep -qx 2 || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEB_TEST_DEBS) >/dev/null; }
	bash scripts/deb-test.sh $(PACKAGE_DIR)/capdeck_*.deb

# `make test` checks the package too (Tests/IntegrationTests/PackageTests.swift reads the .deb).
test: deb
