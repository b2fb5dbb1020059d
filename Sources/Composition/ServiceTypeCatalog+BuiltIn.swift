/// The event packages (RFC 6665 §7) the built-in service types use.
public enum M2MEventPackage {
    /// Sensor readings (sensor id, building, kind, value, time).
    public static let sensor = "m2m-sensor"
    /// Requests to forward a sensor's value to the destination named in the request.
    public static let sensorForward = "m2m-sensor-forward"
    /// Alarms raised by an evaluator (kind, severity, building, contributing readings).
    public static let alarm = "m2m-alarm"
    /// Supporter registrations (kind of event, building ids, contact).
    public static let supporterRegistration = "m2m-supporter-registration"
    /// The supporters responsible for an event kind in a building.
    public static let supporters = "m2m-supporters"
    /// Availability and location of supporters (PIDF, RFC 3863; PIDF-LO, RFC 4119).
    public static let presence = "presence"
    /// The supporters selected for one alarm, in the order to contact them.
    public static let selection = "m2m-selection"
    /// The outcome of an alarm's delivery (who was told, when, over what, who accepted).
    public static let alarmDelivery = "m2m-alarm-delivery"
    /// A household's production and consumption per interval.
    public static let meter = "m2m-meter"
    /// A household's flexible loads (energy, power, earliest start, deadline).
    public static let flexibility = "m2m-flexibility"
    /// A sub-community's aggregated production and consumption.
    public static let balance = "m2m-balance"
    /// Start/defer advice for flexible loads.
    public static let advice = "m2m-advice"
    /// Energy coordinators announcing themselves to each other.
    public static let coordination = "m2m-coordination"
    /// Numbered probe values, to check that a deployment carries values end to end.
    public static let probe = "m2m-probe"
}

extension ServiceTypeCatalog {
    /// The service types smf ships: the building surveillance application (seed 000 §VI), a rule
    /// component, a simulated sensor, the energy community (seed 000 §IV), and the probes.
    public static let builtIn = ServiceTypeCatalog(surveillanceTypes + energyTypes + probeTypes)

    /// Probes: a source of numbered values, a relay and a sink that records them, to check that a deployment
    /// carries values end to end and loses none (like Node-RED's inject and debug nodes, across nodes).
    public static let probeTypes: [ServiceTypeDescriptor] = [
        ServiceTypeDescriptor(
            name: "probe-source",
            summary: "Emits numbered probe values (1, 2, …) at a fixed interval; durable: its values survive a restart of its node.",
            outputs: [PortDescriptor("values", package: M2MEventPackage.probe, value: "probe", filters: ["source"], "the numbered values")],
            parameters: [
                ParameterDescriptor("interval", .duration, "time between two values (default 1s)"),
                ParameterDescriptor("count", .integer, "stop after this many values (default: never)"),
            ]),
        ServiceTypeDescriptor(
            name: "probe-relay",
            summary: "Passes every probe value on unchanged; a relay: it acknowledges a value only once its consumers did.",
            inputs: [PortDescriptor("values", package: M2MEventPackage.probe, value: "probe", required: true, "values to pass on")],
            outputs: [PortDescriptor("values", package: M2MEventPackage.probe, value: "probe", filters: ["source"], "the same values")]),
        ServiceTypeDescriptor(
            name: "probe-sink",
            summary: "Records which probe values arrived (in the node's database) and reports how many, the highest number and the gaps.",
            inputs: [PortDescriptor("values", package: M2MEventPackage.probe, value: "probe", required: true, "values to record")]),
    ]

    private static let sensorFilters = ["building", "kind", "sensor"]

    private static let readingsOut = PortDescriptor(
        "readings", package: M2MEventPackage.sensor, value: "sensor-reading", filters: sensorFilters,
        "sensor readings")

    private static let ruleInput = PortDescriptor(
        "readings", package: M2MEventPackage.sensor, value: "sensor-reading", required: true,
        "the sensor readings the rules look at")

    /// The building surveillance types, plus `rule` and `simulated-sensor`.
    public static let surveillanceTypes: [ServiceTypeDescriptor] = [
        ServiceTypeDescriptor(
            name: "simulated-sensor",
            summary: "A sensor that reports a value periodically and, optionally, an event value from a given time on.",
            outputs: [readingsOut],
            parameters: [
                ParameterDescriptor("sensor-id", .string, required: true, "the sensor's id"),
                ParameterDescriptor("building", .string, required: true, "the building it is in"),
                ParameterDescriptor("kind", .string, required: true, "what it measures: smoke, temperature, motion, door, …"),
                ParameterDescriptor("value", .decimal, "the value it normally reports (default 0)"),
                ParameterDescriptor("interval", .duration, "how often it reports (default 60s)"),
                ParameterDescriptor("event-at", .duration, "when after start the simulated event begins"),
                ParameterDescriptor("event-value", .decimal, "the value it reports once the event began"),
            ]),
        ServiceTypeDescriptor(
            name: "supporter-registry",
            summary: "Service 1: supporters register the event kinds and buildings they answer for, with their contact.",
            inputs: [
                PortDescriptor(
                    "registrations", package: M2MEventPackage.supporterRegistration, value: "registration",
                    "registrations from a front end (supporters may also register directly by SIP)")
            ],
            outputs: [
                PortDescriptor(
                    "supporters", package: M2MEventPackage.supporters, value: "supporter-list",
                    filters: ["building", "kind"], delivery: .state,
                    "the supporters responsible for an event kind in a building")
            ],
            parameters: [
                ParameterDescriptor("registration-expiry", .duration, "how long a registration lasts unless refreshed")
            ]),
        ServiceTypeDescriptor(
            name: "supporter-availability",
            summary: "Service 2: supporters PUBLISH availability and location (PIDF, PIDF-LO); answers who is available where.",
            inputs: [
                PortDescriptor(
                    "reports", package: M2MEventPackage.presence, value: "availability", delivery: .state,
                    "presence documents from a presence server (supporters may also PUBLISH directly)")
            ],
            outputs: [
                PortDescriptor(
                    "availability", package: M2MEventPackage.presence, value: "availability",
                    filters: ["supporter"], delivery: .state, "availability and location of supporters")
            ],
            parameters: [
                ParameterDescriptor("max-age", .duration, "how old a report may be before the supporter counts as unavailable")
            ]),
        ServiceTypeDescriptor(
            name: "sensor-recorder",
            summary: "Service 3: stores sensor readings (SQLite) and forwards a requested sensor's value to the destination named in the request.",
            inputs: [
                PortDescriptor(
                    "readings", package: M2MEventPackage.sensor, value: "sensor-reading",
                    "readings from sensors wired in the composition (sensors may also PUBLISH directly)")
            ],
            outputs: [
                readingsOut,
                PortDescriptor(
                    "forwards", package: M2MEventPackage.sensorForward, value: "forward-request",
                    filters: ["building", "sensor"], "requested values with their destination, for a forwarder"),
            ],
            parameters: [
                ParameterDescriptor("retention", .duration, "how long readings are kept"),
                ParameterDescriptor("report", .oneOf(["periodic", "on-change"]), "which readings go out: each one or changes only"),
            ]),
        ServiceTypeDescriptor(
            name: "sensor-forwarder",
            summary: "Service 4: sends requested sensor values to the destination contained in the request.",
            inputs: [
                PortDescriptor(
                    "requests", package: M2MEventPackage.sensorForward, value: "forward-request", required: true,
                    "values to forward, each with its destination")
            ],
            outputs: [readingsOut],
            parameters: [
                ParameterDescriptor("destination", .sipURI, "where to send values whose request names no destination")
            ]),
        ServiceTypeDescriptor(
            name: "event-evaluator",
            summary: "Service 5: evaluates a building's sensor values with the declared rules and raises alarms (fire, intrusion, …).",
            inputs: [ruleInput],
            outputs: [
                PortDescriptor(
                    "alarms", package: M2MEventPackage.alarm, value: "alarm", filters: ["building", "kind"],
                    "alarms: kind, severity, building, contributing readings")
            ],
            parameters: [
                ParameterDescriptor(
                    "mode", .oneOf(["pull", "push"]), required: true,
                    "pull: it asks the recorder itself; push: values are sent to it through a forwarder"),
                ParameterDescriptor("building", .string, "the building it watches (all when absent)"),
                ParameterDescriptor("poll-interval", .duration, "in pull mode, how often it asks"),
            ],
            takesRules: true),
        ServiceTypeDescriptor(
            name: "supporter-selector",
            summary: "Service 6: for an alarm, asks the registry for responsible supporters and orders them by availability and distance.",
            inputs: [
                PortDescriptor("alarms", package: M2MEventPackage.alarm, value: "alarm", required: true, "alarms to staff"),
                PortDescriptor(
                    "supporters", package: M2MEventPackage.supporters, value: "supporter-list", required: true,
                    delivery: .state, "responsible supporters, from the registry"),
                PortDescriptor(
                    "availability", package: M2MEventPackage.presence, value: "availability", delivery: .state,
                    "availability and location (variant 1; variant 2 supporters report none)"),
            ],
            outputs: [
                PortDescriptor(
                    "selections", package: M2MEventPackage.selection, value: "selection", filters: ["building"],
                    "whom to contact for an alarm, in order, and why")
            ],
            parameters: [
                ParameterDescriptor("order", .oneOf(["distance", "availability", "registration"]), "how supporters are ordered"),
                ParameterDescriptor("max-distance-m", .decimal, "leave out supporters further away than this"),
                ParameterDescriptor("max-supporters", .integer, "how many supporters to select at most"),
            ]),
        ServiceTypeDescriptor(
            name: "supporter-notifier",
            summary: "Service 7: contacts the selected supporters (NOTIFY or MESSAGE in variant 1, SUBSCRIBE in variant 2), escalating until one accepts.",
            inputs: [
                PortDescriptor(
                    "selections", package: M2MEventPackage.selection, value: "selection", required: true,
                    "alarms with the supporters to contact")
            ],
            outputs: [
                PortDescriptor(
                    "deliveries", package: M2MEventPackage.alarmDelivery, value: "delivery-outcome",
                    filters: ["building"], "who was told, when, over what, and who accepted")
            ],
            parameters: [
                ParameterDescriptor(
                    "variant", .oneOf(["notify", "subscribe"]), required: true,
                    "notify: variant 1 (NOTIFY, or MESSAGE to plain phones); subscribe: variant 2"),
                ParameterDescriptor("accept-timeout", .duration, "how long a supporter has to accept before the next is contacted"),
                ParameterDescriptor("retry-interval", .duration, "how often an unanswered delivery is retried"),
                ParameterDescriptor("message-fallback", .boolean, "send a MESSAGE to supporters that cannot take a NOTIFY"),
            ]),
        ServiceTypeDescriptor(
            name: "rule",
            summary: "A generic rule component: raises an event whenever one of its declared rules becomes true.",
            inputs: [ruleInput],
            outputs: [
                PortDescriptor(
                    "events", package: M2MEventPackage.alarm, value: "alarm", filters: ["building", "kind"],
                    "events raised by the rules")
            ],
            parameters: [ParameterDescriptor("building", .string, "the building it watches (all when absent)")],
            takesRules: true),
    ]

    /// The parameters that place an energy service on the simulated day's clock (docs/energy.md, "Time").
    private static let energyClockParameters: [ParameterDescriptor] = [
        ParameterDescriptor("interval", .oneOf(["15m", "5m"]), "the interval of the simulated day: 15m (default) or 5m"),
        ParameterDescriptor(
            "time-scale", .decimal,
            "simulated seconds per real second (default 1; 960 runs a day in 90 s); the same in every service"),
        ParameterDescriptor(
            "day-start", .string,
            "when the first simulated day begins, ISO 8601 UTC (2025-06-21T06:00:00Z); days repeat every 24 simulated hours "
                + "(default: simulated time is real time × time-scale, days begin at 06:00 UTC)"),
    ]

    /// The parameters that pick a household's profile from the seeded simulated day.
    private static let energyDayParameters: [ParameterDescriptor] = [
        ParameterDescriptor(
            "household", .string,
            "the household's id in the simulated day (h000, h001, …); several ids separated by spaces make one instance host them all "
                + "(default: every household of the node, smf run --energy-households)"),
        ParameterDescriptor("seed", .integer, "the seed of the simulated day (default 1; the same seed gives the same day)"),
        ParameterDescriptor("simulated-households", .integer, "households of the simulated feeder the day is generated for (default 50)"),
    ]

    /// The energy community types. Every port carries `application/smf-energy+json` bodies (docs/energy.md,
    /// "Body format"), each under its own event package.
    public static let energyTypes: [ServiceTypeDescriptor] = [
        ServiceTypeDescriptor(
            name: "household-meter",
            summary: "Publishes a household's production and consumption per interval and its inflexible net-load forecast.",
            outputs: [
                PortDescriptor(
                    "readings", package: M2MEventPackage.meter, value: "meter-reading", filters: ["household"],
                    "readings (production and consumption per interval), forecasts, withdrawal")
            ],
            parameters: energyDayParameters + [
                ParameterDescriptor(
                    "share", .oneOf(["aggregate", "detailed"]),
                    "aggregate (default): only the household's totals leave it; detailed: per-device values too")
            ] + energyClockParameters),
        ServiceTypeDescriptor(
            name: "flexibility",
            summary: "Declares a household's flexible loads and battery, follows start/defer advice, and keeps every deadline itself.",
            inputs: [
                PortDescriptor(
                    "advice", package: M2MEventPackage.advice, value: "advice", required: true,
                    "start/defer advice and battery schedules from a coordinator")
            ],
            outputs: [
                PortDescriptor(
                    "offers", package: M2MEventPackage.flexibility, value: "flexibility-offer",
                    filters: ["household", "group"],
                    "flexible loads (energy, power, earliest start, deadline), battery, loads started, withdrawal; group is the service's id")
            ],
            parameters: energyDayParameters + energyClockParameters),
        ServiceTypeDescriptor(
            name: "community-balance",
            summary: "Aggregates the sub-community's forecasts and readings; passes on only sums of several households.",
            inputs: [
                PortDescriptor(
                    "readings", package: M2MEventPackage.meter, value: "meter-reading", required: true,
                    "household meter readings and forecasts")
            ],
            outputs: [
                PortDescriptor(
                    "balance", package: M2MEventPackage.balance, value: "balance", filters: ["feeder"],
                    "the community's aggregate forecast and readings, withdrawals")
            ],
            parameters: [
                ParameterDescriptor("feeder", .string, required: true, "the feeder the households are on"),
                ParameterDescriptor("min-households", .integer, "fewest households a published sum may contain (default 3)"),
            ] + energyClockParameters),
        ServiceTypeDescriptor(
            name: "coordinator",
            summary: "Plans the community's flexible loads and batteries to lower its joint peak and advises each household.",
            inputs: [
                PortDescriptor(
                    "balance", package: M2MEventPackage.balance, value: "balance", required: true,
                    "the community's aggregate forecast"),
                PortDescriptor(
                    "offers", package: M2MEventPackage.flexibility, value: "flexibility-offer", required: true,
                    "the flexible loads and batteries to plan"),
                PortDescriptor(
                    "peers", package: M2MEventPackage.coordination, value: "coordinator-announcement",
                    "the other coordinators' announcements (wire each coordinator's peers to every other's)"),
            ],
            outputs: [
                PortDescriptor(
                    "advice", package: M2MEventPackage.advice, value: "advice", filters: ["household", "group"],
                    "start advice per load and battery schedule, per household"),
                PortDescriptor(
                    "peers", package: M2MEventPackage.coordination, value: "coordinator-announcement",
                    "this coordinator's announcements (every interval) and the coordinators it saw leave"),
            ],
            parameters: [
                ParameterDescriptor(
                    "algorithm", .oneOf(["valley-filling", "none"]),
                    "valley-filling (default): greedy valley filling and battery peak shaving; none: advise nothing"),
                ParameterDescriptor(
                    "priority", .integer, "0–9999 (default 100): coordinators defer to the lowest priority, then the lowest service id"),
                ParameterDescriptor(
                    "failover-after", .duration,
                    "simulated time without a peer's announcement after which it counts as gone (default 45m)"),
            ] + energyClockParameters),
    ]
}
