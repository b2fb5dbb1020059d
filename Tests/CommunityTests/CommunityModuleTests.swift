import Testing
@testable import Community
