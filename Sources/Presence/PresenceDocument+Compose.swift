extension PresenceDocument {
    /// Composes several documents of one presentity into one (RFC 3903 §4 leaves the policy to the
    /// package; this is smf's presence policy, as Kamailio's presence_xml does it): tuples and persons
    /// are collected by id, a later document's tuple or person replacing an earlier one with the same
    /// id; the entity and the top-level notes come from the latest document that has them.
    ///
    /// - Parameter documents: Oldest first.
    /// - Returns: nil when `documents` is empty.
    public static func composed(_ documents: [PresenceDocument]) -> PresenceDocument? {
        guard var result = documents.first else { return nil }
        for document in documents.dropFirst() {
            if !document.entity.isEmpty { result.entity = document.entity }
            if !document.notes.isEmpty { result.notes = document.notes }
            for tuple in document.tuples {
                if let index = result.tuples.firstIndex(where: { $0.id == tuple.id }) {
                    result.tuples[index] = tuple
                } else {
                    result.tuples.append(tuple)
                }
            }
            for person in document.persons {
                if let index = result.persons.firstIndex(where: { $0.id == person.id }) {
                    result.persons[index] = person
                } else {
                    result.persons.append(person)
                }
            }
        }
        return result
    }
}
