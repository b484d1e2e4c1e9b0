// The route-resolution rule table: every combination of the four properties × every app session
// category (and the app session's own options) × every kind of device availability.
// Each check cites its rule: [Apple] from Apple's documentation, [CaptureDeck] our decision.
import CaptureCore
import Testing

struct Availability: CustomStringConvertible, Sendable {
    let name: String
    let routes: InputRoutes
    var description: String { name }

    static let all: [Availability] = [
        Availability(name: "exclusive only", routes: InputRoutes(exclusive: "hw:0")),
        Availability(name: "shared only", routes: InputRoutes(shared: "dsnoop:0")),
        Availability(name: "both", routes: InputRoutes(exclusive: "hw:0", shared: "dsnoop:0")),
        Availability(name: "Bluetooth HQ", routes: InputRoutes(exclusive: "hw:0", shared: "dsnoop:0", bluetoothHQ: "bt-a2dp", bluetoothHFP: "bt-hfp")),
        Availability(name: "HFP only", routes: InputRoutes(exclusive: "hw:0", shared: "dsnoop:0", bluetoothHFP: "bt-hfp")),
        Availability(name: "none", routes: InputRoutes()),
    ]
}

struct Combination: CustomStringConvertible, Sendable {
    let properties: AudioSessionProperties
    let app: AudioSessionState
    let availability: Availability
    var description: String { "\(properties) app=\(app.category)/\(app.options) \(availability)" }

    static let all: [Combination] = {
        var out: [Combination] = []
        for bits in 0..<16 {
            let p = AudioSessionProperties(uses: bits & 1 != 0, autoConfigures: bits & 2 != 0, mix: bits & 4 != 0, bluetoothHQ: bits & 8 != 0)
            for category in AudioSessionCategory.allCases {
                for opts in [AudioSessionOptions(), [.mixWithOthers], [.bluetoothHighQualityRecording], [.mixWithOthers, .bluetoothHighQualityRecording]] {
                    for a in Availability.all {
                        out.append(Combination(properties: p, app: AudioSessionState(category: category, options: opts), availability: a))
                    }
                }
            }
        }
        return out
    }()
}

@Suite struct RouteResolutionTests {
    @Test func applesDefaults() {
        // [Apple] uses = true, auto = true, mix = false; Bluetooth HQ is opt-in (false).
        let p = AudioSessionProperties()
        #expect(p.usesApplicationAudioSession && p.automaticallyConfiguresApplicationAudioSession)
        #expect(!p.configuresApplicationAudioSessionToMixWithOthers)
        #expect(!p.configuresApplicationAudioSessionForBluetoothHighQualityRecording)
        // [Apple] the app session's default category is soloAmbient, which can't record.
        #expect(AudioSessionState().category == .soloAmbient && !AudioSessionCategory.soloAmbient.permitsRecording)
    }

    @Test func theTableCoversEveryCombination() {
        #expect(Combination.all.count == 16 * 5 * 4 * 6)
    }

    @Test(arguments: Combination.all)
    func rules(_ c: Combination) {
        let r = RouteResolver.resolve(c.properties, appSession: c.app, routes: c.availability.routes)
        let p = c.properties
        let routes = c.availability.routes

        if !p.usesApplicationAudioSession {
            // [Apple] master switch: the other three have no effect; capture uses a private session.
            #expect(r.privateSession)
            #expect(!r.effective[.autoConfigure]!.isInEffect && !r.effective[.mixWithOthers]!.isInEffect
                    && !r.effective[.bluetoothHQ]!.isInEffect)
            // [CaptureDeck] the app session is left untouched; the private session is not mixable
            // and has no Bluetooth HQ: exclusive route for the input (shared only if that is all there is).
            #expect(r.appSession == c.app && !r.configuredAppSession)
            #expect(!r.effectiveMix && !r.effectiveBluetoothHQ)
            if let ex = routes.exclusive { #expect(r.route == .success(Route(pcm: ex, kind: .exclusive))) }
        } else if p.automaticallyConfiguresApplicationAudioSession {
            // [Apple] automatic configuration: the category becomes play-and-record for recording.
            // [CaptureDeck] a category that already records (record) is kept.
            let expectedCategory: AudioSessionCategory = c.app.category.permitsRecording ? c.app.category : .playAndRecord
            #expect(r.appSession.category == expectedCategory)
            // [CaptureDeck] options follow the properties.
            #expect(r.appSession.options.contains(.mixWithOthers) == p.configuresApplicationAudioSessionToMixWithOthers)
            #expect(r.appSession.options.contains(.bluetoothHighQualityRecording) == p.configuresApplicationAudioSessionForBluetoothHighQualityRecording)
            // [Apple] HQ falls back to HFP: HFP is allowed whenever HQ is requested.
            if p.configuresApplicationAudioSessionForBluetoothHighQualityRecording {
                #expect(r.appSession.options.contains(.allowBluetoothHFP))
            }
            #expect(r.effectiveMix == p.configuresApplicationAudioSessionToMixWithOthers)
            #expect(r.effectiveBluetoothHQ == p.configuresApplicationAudioSessionForBluetoothHighQualityRecording)
            #expect(r.effective[.mixWithOthers] == .applies(p.configuresApplicationAudioSessionToMixWithOthers))
            // [Apple] nothing of the old state is restored: the resolution carries only the new state.
            #expect(r.configuredAppSession == (r.appSession != c.app))
        } else {
            // [Apple] the app is responsible: its session is used as it is.
            #expect(r.appSession == c.app && !r.configuredAppSession)
            // [CaptureDeck] the app session's own options decide; the properties show that.
            #expect(r.effectiveMix == c.app.options.contains(.mixWithOthers))
            #expect(r.effectiveBluetoothHQ == c.app.options.contains(.bluetoothHighQualityRecording))
            #expect(r.effective[.mixWithOthers] == .appSessionDecides(r.effectiveMix))
            // [Apple] "recording may fail" when the category doesn't permit it; [CaptureDeck] it fails, naming the category.
            if !c.app.category.permitsRecording {
                #expect(r.route == .failure(.categoryCannotRecord(c.app.category)))
                return
            }
        }

        // Route choice, once capture can start.
        switch r.route {
        case .failure(let f):
            // [CaptureDeck] only an input with no PCM at all has no route.
            #expect(f == .noRoute)
            #expect(routes == InputRoutes())
        case .success(let route):
            if r.effectiveBluetoothHQ, let hq = routes.bluetoothHQ {
                // [Apple] opt in to high-quality Bluetooth recording.
                #expect(route == Route(pcm: hq, kind: .bluetoothHQ))
            } else if r.effectiveBluetoothHQ, let hfp = routes.bluetoothHFP {
                // [Apple] falls back to HFP when the route can't do high quality.
                #expect(route == Route(pcm: hfp, kind: .bluetoothHFP))
                #expect(!r.notes.isEmpty)
            } else if r.effectiveMix {
                // [CaptureDeck] mix on → a shared device (other programs keep capturing); else exclusive, said.
                #expect(route.kind == (routes.shared != nil ? .shared : .exclusive))
            } else {
                // [CaptureDeck] mix off → exclusive hardware access (other programs are interrupted); else shared, said.
                #expect(route.kind == (routes.exclusive != nil ? .exclusive : .shared))
            }
            if r.effectiveBluetoothHQ && routes.bluetoothHQ == nil && routes.bluetoothHFP == nil {
                // [CaptureDeck] no Bluetooth input: the ordinary route, and say so.
                #expect(r.notes.contains { $0.contains("no Bluetooth input") })
            }
        }
    }

    @Test func automaticConfigurationOfTheDefaultSession() {
        // [Apple] the default app session (soloAmbient) can't record; automatic configuration fixes that.
        let r = RouteResolver.resolve(AudioSessionProperties(), appSession: AudioSessionState(), routes: InputRoutes(exclusive: "hw:0", shared: "dsnoop:0"))
        #expect(r.appSession.category == .playAndRecord)
        #expect(r.route == .success(Route(pcm: "hw:0", kind: .exclusive)))
        #expect(r.configuredAppSession)
    }

    @Test func keysParseAndIndex() {
        var p = AudioSessionProperties()
        for key in AudioSessionProperties.Key.allCases {
            #expect(AudioSessionProperties.Key(name: key.rawValue) == key)
            #expect(p[key] == key.appleDefault)
            p[key].toggle()
            #expect(p[key] != key.appleDefault)
        }
        #expect(AudioSessionProperties.Key(name: "volume") == nil)
    }
}
