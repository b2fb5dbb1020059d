import Overlay
import Testing

@Suite struct RepublishScheduleTests {
    @Test func storedRecordsAreRefreshedEveryRefreshPeriod() {
        var schedule = RepublishSchedule(refresh: .seconds(1800), firstRetry: .seconds(1), maximumRetry: .seconds(30))
        #expect(schedule.delay(afterStoring: true) == .seconds(1800))
        #expect(schedule.delay(afterStoring: true) == .seconds(1800))
        #expect(schedule.failures == 0)
    }

    @Test func failedStoreIsRetriedSoonBackingOffToTheMaximum() {
        var schedule = RepublishSchedule(refresh: .seconds(1800), firstRetry: .seconds(1), maximumRetry: .seconds(30))
        let delays = (0..<7).map { _ in schedule.delay(afterStoring: false) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        #expect(schedule.failures == 7)
    }

    @Test func successAfterFailuresStartsTheBackOffOver() {
        var schedule = RepublishSchedule(refresh: .seconds(1800), firstRetry: .seconds(1), maximumRetry: .seconds(30))
        _ = schedule.delay(afterStoring: false)
        _ = schedule.delay(afterStoring: false)
        #expect(schedule.delay(afterStoring: true) == .seconds(1800))
        #expect(schedule.delay(afterStoring: false) == .seconds(1))
    }

    @Test func retriesNeverWaitLongerThanARefresh() {
        var schedule = RepublishSchedule(refresh: .seconds(3), firstRetry: .seconds(5), maximumRetry: .seconds(60))
        #expect(schedule.delay(afterStoring: false) == .seconds(3))
        #expect(schedule.delay(afterStoring: false) == .seconds(3))
    }

    @Test func ringScheduleRetriesAfterOnePeriodAndAtMostTenPeriods() {
        var schedule = RepublishSchedule(refresh: .seconds(1800), stabilizeInterval: .milliseconds(500))
        #expect(schedule.firstRetry == .milliseconds(500))
        #expect(schedule.maximumRetry == .seconds(5))
        let delays = (0..<6).map { _ in schedule.delay(afterStoring: false) }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }
}
