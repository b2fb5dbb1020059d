import Testing
@testable import Surveillance
