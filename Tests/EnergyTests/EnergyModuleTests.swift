import Testing
@testable import Energy
