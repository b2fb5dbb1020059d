import GRDB

extension Migrations {
    /// "v5-community": community membership (docs/community.md). Signed objects are kept as the exact bytes
    /// that were verified (`credential`, `charter`, `certificate`, `statement`, `revocation` BLOBs); the
    /// columns beside them are copies for lookups and listings. Times are milliseconds since 1970.
    /// Leaving a community (deleting its row) removes everything stored for it.
    static func registerCommunity(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-community") { db in
            try db.execute(
                sql: """
                    CREATE TABLE community_communities (
                        id                BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 32),
                        name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
                        founding_key      BLOB NOT NULL CHECK (length(founding_key) = 32),
                        credential        BLOB,
                        founding_key_path TEXT,
                        joined_at         INTEGER NOT NULL
                    ) STRICT;
                    CREATE TABLE community_members (
                        community_id BLOB NOT NULL REFERENCES community_communities (id) ON DELETE CASCADE,
                        node_id      BLOB NOT NULL CHECK (length(node_id) = 20),
                        public_key   BLOB NOT NULL CHECK (length(public_key) = 32),
                        role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
                        services     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(services) AND json_type(services) = 'array'),
                        credential   BLOB,
                        updated_at   INTEGER NOT NULL,
                        PRIMARY KEY (community_id, node_id)
                    ) STRICT;
                    CREATE TABLE community_subcommunities (
                        community_id BLOB NOT NULL REFERENCES community_communities (id) ON DELETE CASCADE,
                        name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
                        policy       TEXT NOT NULL CHECK (policy IN ('open', 'invite', 'approval')),
                        charter      BLOB NOT NULL,
                        PRIMARY KEY (community_id, name)
                    ) STRICT;
                    CREATE TABLE community_subcommunity_certificates (
                        community_id BLOB NOT NULL,
                        sub_name     TEXT NOT NULL,
                        node_id      BLOB NOT NULL CHECK (length(node_id) = 20),
                        issued_at    INTEGER NOT NULL,
                        certificate  BLOB NOT NULL,
                        PRIMARY KEY (community_id, sub_name, node_id),
                        FOREIGN KEY (community_id, sub_name)
                            REFERENCES community_subcommunities (community_id, name) ON DELETE CASCADE
                    ) STRICT;
                    CREATE TABLE community_subcommunity_statements (
                        id           INTEGER PRIMARY KEY AUTOINCREMENT,
                        community_id BLOB NOT NULL,
                        sub_name     TEXT NOT NULL,
                        kind         INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 4),
                        subject      BLOB NOT NULL CHECK (length(subject) = 32),
                        at           INTEGER NOT NULL,
                        statement    BLOB NOT NULL UNIQUE,
                        FOREIGN KEY (community_id, sub_name)
                            REFERENCES community_subcommunities (community_id, name) ON DELETE CASCADE
                    ) STRICT;
                    CREATE TABLE community_revocations (
                        community_id BLOB NOT NULL REFERENCES community_communities (id) ON DELETE CASCADE,
                        revoked_key  BLOB NOT NULL CHECK (length(revoked_key) = 32),
                        revoked_at   INTEGER NOT NULL,
                        issuer_key   BLOB NOT NULL CHECK (length(issuer_key) = 32),
                        revocation   BLOB NOT NULL,
                        PRIMARY KEY (community_id, revoked_key)
                    ) STRICT;
                    CREATE TABLE community_used_nonces (
                        community_id BLOB NOT NULL REFERENCES community_communities (id) ON DELETE CASCADE,
                        nonce        BLOB NOT NULL CHECK (length(nonce) = 16),
                        used_at      INTEGER NOT NULL,
                        PRIMARY KEY (community_id, nonce)
                    ) STRICT;
                    """)
        }
    }

    /// "v8-community-contacts": where each member's node is reached (its address of record), learned from its
    /// announcement in the community's overlay ring. The node uses it to reach owners and members and as
    /// bootstrap peers when it rejoins the ring after a restart.
    static func registerCommunityContacts(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-community-contacts") { db in
            try db.execute(sql: "ALTER TABLE community_members ADD COLUMN contact TEXT CHECK (contact IS NULL OR length(contact) BETWEEN 1 AND 512)")
        }
    }
}
