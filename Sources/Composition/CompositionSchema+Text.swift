// The bundled copy of Schemas/composition-1.xsd (a test checks the two are byte-identical).
// Regenerate after editing the schema: see docs/compositions.md, "Changing the schema".

extension CompositionSchema {
    /// The text of `Schemas/composition-1.xsd`, the XSD of namespace `urn:smf:composition:1`.
    public static let text: String = #"""
<?xml version="1.0" encoding="UTF-8"?>
<!--
  smf composition language, version 1 (namespace urn:smf:composition:1).
  A composition names an application, the sub-community it is deployed into, its services (type,
  configuration, placement, rules), the wires between service ports (each wire is a SIP subscription
  to the event package of the ports it joins) and constraints on when and where services run.
  This schema checks the structure; smf checks the meaning (service types, ports, configuration,
  wiring) against its service type catalogue. See docs/compositions.md.
-->
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:c="urn:smf:composition:1"
           targetNamespace="urn:smf:composition:1"
           elementFormDefault="qualified"
           attributeFormDefault="unqualified">

  <!-- Names: services, ports, rules, wires, parameters. -->
  <xs:simpleType name="Identifier">
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Za-z][A-Za-z0-9_\-]{0,63}"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- A service type: lower-case words joined by hyphens, e.g. sensor-recorder. -->
  <xs:simpleType name="TypeName">
    <xs:restriction base="xs:string">
      <xs:pattern value="[a-z][a-z0-9]*(-[a-z0-9]+)*"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- A community or sub-community name: slash-separated segments, e.g. surveillance/north-street. -->
  <xs:simpleType name="CommunityName">
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- "service.port", e.g. recorder.readings. -->
  <xs:simpleType name="PortReference">
    <xs:restriction base="xs:string">
      <xs:pattern value="[A-Za-z][A-Za-z0-9_\-]{0,63}\.[A-Za-z][A-Za-z0-9_\-]{0,63}"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- local (this node), any (any member offering the type) or peer:NAME (a named member). -->
  <xs:simpleType name="Placement">
    <xs:restriction base="xs:string">
      <xs:pattern value="local|any|peer:[^\s]+"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- A duration: a number and a unit, e.g. 250ms, 30s, 5m, 2h. -->
  <xs:simpleType name="Duration">
    <xs:restriction base="xs:string">
      <xs:pattern value="[0-9]+(\.[0-9]+)?(ms|s|m|h)"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- A time of day, 24-hour clock: HH:MM. -->
  <xs:simpleType name="TimeOfDay">
    <xs:restriction base="xs:string">
      <xs:pattern value="([01][0-9]|2[0-3]):[0-5][0-9]"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- Days of the week, e.g. "mon tue wed thu fri". -->
  <xs:simpleType name="Day">
    <xs:restriction base="xs:string">
      <xs:enumeration value="mon"/><xs:enumeration value="tue"/><xs:enumeration value="wed"/>
      <xs:enumeration value="thu"/><xs:enumeration value="fri"/><xs:enumeration value="sat"/>
      <xs:enumeration value="sun"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="Days">
    <xs:list itemType="c:Day"/>
  </xs:simpleType>

  <xs:simpleType name="Severity">
    <xs:restriction base="xs:string">
      <xs:enumeration value="info"/><xs:enumeration value="minor"/>
      <xs:enumeration value="major"/><xs:enumeration value="critical"/>
    </xs:restriction>
  </xs:simpleType>

  <!-- The root element. -->
  <xs:element name="composition">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="description" type="xs:string" minOccurs="0"/>
        <xs:element name="services">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="service" type="c:Service" maxOccurs="unbounded"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
        <xs:element name="wires" minOccurs="0">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="wire" type="c:Wire" minOccurs="0" maxOccurs="unbounded"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
        <xs:element name="constraints" minOccurs="0">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="constraint" type="c:Constraint" minOccurs="0" maxOccurs="unbounded"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
      <xs:attribute name="name" type="c:Identifier" use="required"/>
      <xs:attribute name="version" type="xs:positiveInteger" default="1"/>
      <xs:attribute name="community" type="c:CommunityName" use="required"/>
      <xs:attribute name="subcommunity" type="c:CommunityName" use="required"/>
    </xs:complexType>
  </xs:element>

  <!-- A service: its type, where it runs, its configuration and (for rule components) its rules. -->
  <xs:complexType name="Service">
    <xs:sequence>
      <xs:element name="param" type="c:Param" minOccurs="0" maxOccurs="unbounded"/>
      <xs:element name="rule" type="c:Rule" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence>
    <xs:attribute name="id" type="c:Identifier" use="required"/>
    <xs:attribute name="type" type="c:TypeName" use="required"/>
    <xs:attribute name="placement" type="c:Placement" default="any"/>
  </xs:complexType>

  <!-- A configuration entry: <param name="building">B1</param>. -->
  <xs:complexType name="Param">
    <xs:simpleContent>
      <xs:extension base="xs:string">
        <xs:attribute name="name" type="c:Identifier" use="required"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>

  <!-- A wire from an output port to an input port: the consumer subscribes to the producer. -->
  <xs:complexType name="Wire">
    <xs:sequence>
      <xs:element name="filter" minOccurs="0" maxOccurs="unbounded">
        <xs:complexType>
          <xs:attribute name="name" type="c:Identifier" use="required"/>
          <xs:attribute name="value" type="xs:string" use="required"/>
        </xs:complexType>
      </xs:element>
    </xs:sequence>
    <xs:attribute name="id" type="c:Identifier"/>
    <xs:attribute name="from" type="c:PortReference" use="required"/>
    <xs:attribute name="to" type="c:PortReference" use="required"/>
    <!-- A wire that closes a loop on purpose (e.g. advice back to the loads a coordinator plans). -->
    <xs:attribute name="feedback" type="xs:boolean" default="false"/>
  </xs:complexType>

  <!-- When and where a service (or, without service=, every service) may run. -->
  <xs:complexType name="Constraint">
    <xs:choice maxOccurs="unbounded">
      <xs:element name="time-window">
        <xs:complexType>
          <xs:attribute name="days" type="c:Days"/>
          <xs:attribute name="from" type="c:TimeOfDay" use="required"/>
          <xs:attribute name="to" type="c:TimeOfDay" use="required"/>
        </xs:complexType>
      </xs:element>
      <xs:element name="where">
        <xs:complexType>
          <xs:attribute name="peer" type="xs:string"/>
          <xs:attribute name="area" type="xs:string"/>
        </xs:complexType>
      </xs:element>
    </xs:choice>
    <xs:attribute name="service" type="c:Identifier"/>
  </xs:complexType>

  <!-- Rules of a rule component: one condition each. -->
  <xs:complexType name="Rule">
    <xs:group ref="c:Condition"/>
    <xs:attribute name="id" type="c:Identifier" use="required"/>
    <xs:attribute name="alarm" type="c:Identifier" use="required"/>
    <xs:attribute name="severity" type="c:Severity" default="major"/>
  </xs:complexType>

  <xs:group name="Condition">
    <xs:choice>
      <xs:element name="threshold" type="c:Threshold"/>
      <xs:element name="count" type="c:Count"/>
      <xs:element name="sustained" type="c:Sustained"/>
      <xs:element name="all" type="c:Conditions"/>
      <xs:element name="any" type="c:Conditions"/>
      <xs:element name="not" type="c:Negation"/>
    </xs:choice>
  </xs:group>

  <xs:complexType name="Conditions">
    <xs:group ref="c:Condition" minOccurs="1" maxOccurs="unbounded"/>
  </xs:complexType>

  <xs:complexType name="Negation">
    <xs:group ref="c:Condition"/>
  </xs:complexType>

  <!-- Which readings, and how they compare: exactly one of above, below, equals. -->
  <xs:attributeGroup name="Comparison">
    <xs:attribute name="kind" type="xs:string"/>
    <xs:attribute name="sensor" type="xs:string"/>
    <xs:attribute name="above" type="xs:double"/>
    <xs:attribute name="below" type="xs:double"/>
    <xs:attribute name="equals" type="xs:double"/>
  </xs:attributeGroup>

  <!-- The latest value of a selected sensor compares. -->
  <xs:complexType name="Threshold">
    <xs:attributeGroup ref="c:Comparison"/>
  </xs:complexType>

  <!-- At least `sensors` distinct sensors of one building compare within the window. -->
  <xs:complexType name="Count">
    <xs:attributeGroup ref="c:Comparison"/>
    <xs:attribute name="sensors" type="xs:positiveInteger" use="required"/>
    <xs:attribute name="within" type="c:Duration" use="required"/>
  </xs:complexType>

  <!-- A selected sensor's value has compared for at least `for`. -->
  <xs:complexType name="Sustained">
    <xs:attributeGroup ref="c:Comparison"/>
    <xs:attribute name="for" type="c:Duration" use="required"/>
  </xs:complexType>
</xs:schema>

"""#
}
