public import ServicePlatform

/// The service components of the energy community (docs/energy.md, "Services"): factories for the catalogue's
/// `household-meter`, `flexibility`, `community-balance` and `coordinator`.
public enum EnergyComponents {
    /// The four factories of a node. They share `houses`, the node's simulated houses, so that a household's meter
    /// measures what its flexibility service switched on: give every factory of one node the same object. Each checks a
    /// configuration (``ServicePlatform/ServiceComponentFactory/check(_:)``) by making the component and dropping it,
    /// so a host refuses a misconfigured service, or a household it does not have, before it commits its part.
    public static func factories(houses: SimulatedHouses = SimulatedHouses()) -> [any ServiceComponentFactory] {
        [
            HouseholdMeterFactory(houses: houses), FlexibilityFactory(houses: houses), CommunityBalanceFactory(),
            CoordinatorFactory(),
        ]
    }
}

/// Makes `household-meter` components.
public struct HouseholdMeterFactory: ServiceComponentFactory {
    public let houses: SimulatedHouses
    public var typeName: String { "household-meter" }
    /// Nothing durable: it has no input, and what it measures comes from the simulated house.
    public var durability: ServiceDurability { .relay }

    public init(houses: SimulatedHouses) {
        self.houses = houses
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        try HouseholdMeterComponent(instance: instance, houses: houses)
    }

    /// Makes the component and drops it: making one starts nothing.
    public func check(_ instance: ServiceInstanceInfo) throws { _ = try makeComponent(for: instance) }
}

/// Makes `flexibility` components.
public struct FlexibilityFactory: ServiceComponentFactory {
    public let houses: SimulatedHouses
    public var typeName: String { "flexibility" }
    /// Advice is kept in memory only: it is renewed at every plan, and the household keeps its deadlines without it.
    public var durability: ServiceDurability { .relay }

    public init(houses: SimulatedHouses) {
        self.houses = houses
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        try FlexibilityComponent(instance: instance, houses: houses)
    }

    /// Makes the component and drops it: making one starts nothing.
    public func check(_ instance: ServiceInstanceInfo) throws { _ = try makeComponent(for: instance) }
}

/// Makes `community-balance` components.
public struct CommunityBalanceFactory: ServiceComponentFactory {
    public var typeName: String { "community-balance" }
    /// A meter's value is acknowledged once the sums it caused reached the coordinators.
    public var durability: ServiceDurability { .relay }

    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        try CommunityBalanceComponent(instance: instance)
    }

    /// Makes the component and drops it: making one starts nothing.
    public func check(_ instance: ServiceInstanceInfo) throws { _ = try makeComponent(for: instance) }
}

/// Makes `coordinator` components.
public struct CoordinatorFactory: ServiceComponentFactory {
    public var typeName: String { "coordinator" }
    /// Its state is soft: the households and the balance service refresh it every simulated hour.
    public var durability: ServiceDurability { .relay }

    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        try CoordinatorComponent(instance: instance)
    }

    /// Makes the component and drops it: making one starts nothing.
    public func check(_ instance: ServiceInstanceInfo) throws { _ = try makeComponent(for: instance) }
}
