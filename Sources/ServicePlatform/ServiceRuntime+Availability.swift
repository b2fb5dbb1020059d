// Time windows at run time (docs/services.md "Constraints"): an instance outside its `<time-window>`s is not started
// and refuses its inputs until it opens; one task starts and stops windowed instances as their windows open and close.

import Composition
import Foundation
import Logging
import SIPEvents

extension ServiceRuntime {
    /// When `service` of `application` is available on this node (its windows in the node's time zone).
    func availability(of service: String, in application: HostedApplication) -> ServiceAvailability {
        ServiceAvailability(service: service, constraints: application.composition.constraints, timeZone: configuration.timeZone)
    }

    /// Whether an instance placed here may start now; if not, it is recorded as waiting until its window opens.
    func mayStart(_ key: InstanceKey, in application: HostedApplication) -> Bool {
        let availability = availability(of: key.service, in: application)
        guard !availability.isAlwaysAvailable else { return true }
        let now = clock.now()
        guard !availability.isAvailable(at: now) else {
            waiting[key] = nil
            return true
        }
        let type = application.composition.service(key.service)?.type ?? ""
        if waiting[key] == nil {
            logger.info(
                "service instance waits for its time window",
                metadata: ["sdp.app": "\(key.application)", "sdp.service": "\(key.service)"])
        }
        waiting[key] = WaitingInstance(type: type, until: availability.nextChange(after: now))
        return false
    }

    /// The state `smf app show` prints for a waiting instance.
    func waitingState(_ instance: WaitingInstance) -> String {
        guard let until = instance.until else { return "waiting: outside its time window" }
        return "waiting: outside its time window until \(ServiceAvailability.localTime(until, in: configuration.timeZone))"
    }

    /// The Retry-After with which a waiting instance refuses an input: the seconds until it opens, at least 1 and at
    /// most ``ServiceRuntimeConfiguration/waitingRetryAfterLimit``.
    func retryAfter(whileWaiting instance: WaitingInstance) -> Int {
        let limit = max(1, configuration.waitingRetryAfterLimit)
        guard let until = instance.until else { return limit }
        let seconds = Int(ServiceAvailability.second(of: until - clock.now() + .milliseconds(999)))
        return min(max(1, seconds), limit)
    }

    /// Starts the task that follows the windows (again, so it looks at once).
    func scheduleAvailabilityChecks() {
        guard isRunning else { return }
        availabilityTask?.cancel()
        availabilityTask = Task { [weak self] in _ = await self?.followTimeWindows() }
    }

    /// Sleeps until the earliest window change among the windowed instances placed here (at most
    /// ``ServiceRuntimeConfiguration/availabilityCheckInterval``), then starts those whose window opened and stops
    /// those whose window closed; until cancelled or no instance has a window.
    func followTimeWindows() async {
        while !Task.isCancelled {
            let (windowed, next) = await applyTimeWindows()
            guard windowed, !Task.isCancelled else { return }
            var wait = configuration.availabilityCheckInterval
            if let next { wait = min(wait, max(next - clock.now(), .milliseconds(1))) }
            guard await pause(wait) else { return }
        }
    }

    /// Starts each windowed instance whose window is open and is not running, and stops (and discards) each whose
    /// window is closed; returns whether there is any windowed instance and the earliest next change.
    func applyTimeWindows() async -> (windowed: Bool, next: Duration?) {
        var windowed = false
        var earliest: Duration?
        for name in hosted.keys.sorted() {
            guard let application = hosted[name] else { continue }
            for service in application.services(on: me).sorted() {
                let availability = availability(of: service, in: application)
                guard !availability.isAlwaysAvailable else { continue }
                windowed = true
                let key = InstanceKey(application: name, service: service)
                let now = clock.now()
                let next = availability.nextChange(after: now)
                if let next { earliest = min(earliest ?? next, next) }
                if availability.isAvailable(at: now) {
                    guard waiting.removeValue(forKey: key) != nil, instances[key] == nil, hosted[name] != nil else { continue }
                    logger.info("time window opened: starting the instance", metadata: ["sdp.app": "\(name)", "sdp.service": "\(service)"])
                    await startInstance(key)
                    restartStateInputs(of: key)
                } else if let instance = instances.removeValue(forKey: key) {
                    waiting[key] = WaitingInstance(type: instance.info.serviceType, until: next)
                    logger.info("time window closed: instance stopped", metadata: ["sdp.app": "\(name)", "sdp.service": "\(service)"])
                    // The outboxes stay: what it emitted before is still delivered; it emits nothing more.
                    await instance.component.stop()
                    markStatusDirty(name)
                } else {
                    waiting[key] = WaitingInstance(type: application.composition.service(service)?.type ?? "", until: next)
                }
            }
        }
        return (windowed, earliest)
    }

    /// Subscribes the state inputs of an instance that just started again, so it gets each one's current state (those
    /// that arrived while it waited were not kept).
    func restartStateInputs(of key: InstanceKey) {
        guard let application = hosted[key.application] else { return }
        for wire in application.composition.wires where wire.to.service == key.service {
            guard let type = application.composition.service(wire.from.service)?.type, catalog[type]?.output(wire.from.port)?.delivery == .state else { continue }
            let wireKey = WireKey(application: key.application, wire: ServiceAddressing.wireID(wire))
            guard consumers[wireKey] != nil else { continue }
            cancelConsumer(wireKey)
            ensureConsumer(wireKey, wire: wire, in: application)
        }
    }
}
