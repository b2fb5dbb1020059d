import Foundation

/// A seedable SplitMix64 generator, so that a simulated day replays exactly from its seed.
///
/// Own copy (the Energy module depends on nothing); the algorithm is Steele, Lea and Flood's SplitMix64.
public struct EnergyRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform value in `[low, high)`.
    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * unit()
    }

    /// `true` with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        unit() < probability
    }

    /// A normal value (Box–Muller) clamped to `range`.
    mutating func normal(mean: Double, deviation: Double, clampedTo range: ClosedRange<Double>) -> Double {
        let u1 = max(unit(), 1e-12)
        let u2 = unit()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return min(max(mean + deviation * z, range.lowerBound), range.upperBound)
    }
}
