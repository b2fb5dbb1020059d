public import ServicePlatform

/// The factories of every building-surveillance service type (the `surveillanceTypes` of the composition
/// catalogue), for a node to register in its ``ServicePlatform/ServiceComponentRegistry``.
public enum SurveillanceComponents {
    /// One factory per type: `simulated-sensor`, `supporter-registry`, `supporter-availability`,
    /// `sensor-recorder`, `sensor-forwarder`, `event-evaluator`, `supporter-selector`, `supporter-notifier`
    /// and `rule`.
    ///
    /// - Parameters:
    ///   - readings: The recorder's store (a node: `Storage.SQLiteSensorReadingStore`).
    ///   - state: The registry's, availability service's and notifier's store (a node:
    ///     `Storage.SQLiteSurveillanceStateStore`).
    ///   - alarms: The notifier's alarms (a node: `Storage.SQLiteAlarmStore`).
    public static func factories(
        readings: any SensorReadingStore, state: any SurveillanceStateStore, alarms: any AlarmStore
    ) -> [any ServiceComponentFactory] {
        [
            SimulatedSensorFactory(),
            SupporterRegistryFactory(store: state),
            SupporterAvailabilityFactory(store: state),
            SensorRecorderFactory(store: readings),
            SensorForwarderFactory(),
            EventEvaluatorFactory(),
            SupporterSelectorFactory(),
            SupporterNotifierFactory(alarms: alarms, state: state),
            RuleComponentFactory(),
        ]
    }
}
