import Testing
@testable import ServicePlatform
