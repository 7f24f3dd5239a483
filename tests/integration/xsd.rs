//! A validator for the subset of XML Schema that the committed JUnit XSD uses, so that
//! `cargo test` checks the JUnit reports against that schema without an external program.
//!
//! It reads the XSD itself (elements by name or `ref`, named and anonymous complex types,
//! `mixed`, `sequence`/`choice` with `minOccurs`/`maxOccurs`, attributes with `use`, string
//! restrictions by `pattern`) and panics on any construct outside that subset, so a schema
//! that grows beyond it fails loudly instead of being half checked. It also checks what
//! xmllint checks before the schema: well-formedness, XML 1.0 characters, entity references.
//! `xmllint_agrees_with_the_rust_check` (run by .ci/run) holds the two to the same verdicts.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::Event;

/// An element of a parsed document.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
    /// The element's own character data (not its children's), concatenated.
    pub(crate) text: String,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(what: &str, text: &str) -> Result<(), String> {
    match text.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(format!("{what}: {c:?} is not an XML 1.0 character")),
        None => Ok(()),
    }
}

/// Parses a well-formed XML 1.0 document into its root element.
pub(crate) fn parse(xml: &str) -> Result<Node, String> {
    check_chars("document", xml)?;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let element = |e: &quick_xml::events::BytesStart<'_>| -> Result<Node, String> {
        let name = String::from_utf8(e.name().as_ref().to_vec()).map_err(|e| e.to_string())?;
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| format!("<{name}>: {e}"))?;
            let key = String::from_utf8(a.key.as_ref().to_vec()).map_err(|e| e.to_string())?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("<{name} {key}>: {e}"))?
                .into_owned();
            check_chars(&format!("<{name} {key}>"), &value)?;
            attrs.push((key, value));
        }
        Ok(Node {
            name,
            attrs,
            children: Vec::new(),
            text: String::new(),
        })
    };
    let mut close = |node: Node, stack: &mut Vec<Node>| -> Result<(), String> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None if root.is_none() => root = Some(node),
            None => return Err("more than one root element".to_owned()),
        }
        Ok(())
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => stack.push(element(&e)?),
            Event::Empty(e) => {
                let node = element(&e)?;
                close(node, &mut stack)?;
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("an end tag without a start tag")?;
                close(node, &mut stack)?;
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err("text outside the root element".to_owned()),
                }
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                stack
                    .last_mut()
                    .ok_or("CDATA outside the root element")?
                    .text
                    .push_str(&text);
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| e.to_string())?
                        .ok_or("an empty character reference")?
                } else {
                    match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("undeclared entity &{other};")),
                    }
                };
                if !is_xml_char(c) {
                    return Err(format!(
                        "a character reference to {c:?}, which is not an XML 1.0 character"
                    ));
                }
                stack
                    .last_mut()
                    .ok_or("a reference outside the root element")?
                    .text
                    .push(c);
            }
            Event::DocType(_) => return Err("a DOCTYPE (JUnit reports have none)".to_owned()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(format!("<{}> is never closed", stack[0].name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

#[derive(Clone, Debug)]
enum SimpleType {
    String,
    /// An `xs:string` restricted by a pattern (XSD patterns match the whole value).
    Pattern(String, regex::Regex),
}

impl SimpleType {
    fn check(&self, value: &str) -> Result<(), String> {
        match self {
            SimpleType::String => Ok(()),
            SimpleType::Pattern(_, re) if re.is_match(value) => Ok(()),
            SimpleType::Pattern(p, _) => Err(format!("{value:?} does not match {p:?}")),
        }
    }
}

#[derive(Clone, Debug)]
struct Attribute {
    name: String,
    ty: SimpleType,
    required: bool,
}

#[derive(Clone, Debug)]
enum Content {
    Simple(SimpleType),
    Complex {
        mixed: bool,
        model: Option<Particle>,
        attributes: Vec<Attribute>,
    },
}

#[derive(Clone, Debug)]
struct Particle {
    min: usize,
    /// `None` is `unbounded`.
    max: Option<usize>,
    term: Term,
}

#[derive(Clone, Debug)]
enum Term {
    /// An element, by name; its declaration is in the schema's element table.
    Element(String),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
}

/// A schema: the declaration of every element name, global or local.
pub(crate) struct Schema {
    elements: BTreeMap<String, Content>,
    roots: BTreeSet<String>,
}

const XS: &str = "xs:";

fn xs(node: &Node) -> &str {
    node.name
        .strip_prefix(XS)
        .unwrap_or_else(|| panic!("unsupported XSD construct <{}>", node.name))
}

fn occurs(node: &Node, name: &str) -> Option<usize> {
    match node.attr(name) {
        None => Some(1),
        Some("unbounded") => None,
        Some(n) => Some(n.parse().unwrap_or_else(|_| panic!("{name}={n:?}"))),
    }
}

fn known_attrs(node: &Node, allowed: &[&str]) {
    for (k, _) in &node.attrs {
        assert!(
            allowed.contains(&k.as_str()),
            "unsupported XSD attribute {k:?} on <{}>",
            node.name
        );
    }
}

struct SchemaReader<'a> {
    simple: BTreeMap<&'a str, SimpleType>,
    complex: BTreeMap<&'a str, &'a Node>,
    elements: BTreeMap<String, Content>,
}

impl<'a> SchemaReader<'a> {
    fn simple_type(node: &Node) -> SimpleType {
        known_attrs(node, &["name"]);
        let [restriction] = node.children.as_slice() else {
            panic!("unsupported simpleType: {node:?}")
        };
        assert_eq!(restriction.name, "xs:restriction", "unsupported simpleType");
        assert_eq!(restriction.attr("base"), Some("xs:string"));
        let [pattern] = restriction.children.as_slice() else {
            panic!("unsupported restriction: {restriction:?}")
        };
        assert_eq!(pattern.name, "xs:pattern", "unsupported facet");
        let p = pattern.attr("value").expect("a pattern has a value");
        // What XSD's regex dialect has and Rust's regex lacks or reads differently.
        for construct in ["\\i", "\\c", "\\I", "\\C", "-[", "^", "$", "\\p{Is"] {
            assert!(
                !p.contains(construct),
                "unsupported XSD pattern construct {construct:?} in {p:?}"
            );
        }
        let re = regex::Regex::new(&format!("^(?:{p})$")).expect("the pattern compiles");
        SimpleType::Pattern(p.to_owned(), re)
    }

    fn type_named(&mut self, name: &str) -> Content {
        if name == "xs:string" {
            return Content::Simple(SimpleType::String);
        }
        if let Some(t) = self.simple.get(name) {
            return Content::Simple(t.clone());
        }
        let node = *self
            .complex
            .get(name)
            .unwrap_or_else(|| panic!("unknown type {name:?}"));
        self.complex_type(node)
    }

    fn simple_named(&self, name: &str) -> SimpleType {
        if name == "xs:string" {
            return SimpleType::String;
        }
        self.simple
            .get(name)
            .unwrap_or_else(|| panic!("unknown simple type {name:?}"))
            .clone()
    }

    fn complex_type(&mut self, node: &Node) -> Content {
        known_attrs(node, &["name", "mixed"]);
        let mixed = node.attr("mixed") == Some("true");
        let mut model = None;
        let mut attributes = Vec::new();
        for child in &node.children {
            match xs(child) {
                "sequence" | "choice" => {
                    assert!(model.is_none(), "two content models in {node:?}");
                    model = Some(self.particle(child));
                }
                "attribute" => {
                    known_attrs(child, &["name", "type", "use"]);
                    attributes.push(Attribute {
                        name: child.attr("name").expect("a named attribute").to_owned(),
                        ty: self.simple_named(child.attr("type").unwrap_or("xs:string")),
                        required: match child.attr("use") {
                            None | Some("optional") => false,
                            Some("required") => true,
                            Some(other) => panic!("unsupported use={other:?}"),
                        },
                    });
                }
                other => panic!("unsupported XSD construct <xs:{other}> in a complexType"),
            }
        }
        Content::Complex {
            mixed,
            model,
            attributes,
        }
    }

    fn particle(&mut self, node: &Node) -> Particle {
        let (min, max) = (
            occurs(node, "minOccurs").expect("minOccurs is a number"),
            occurs(node, "maxOccurs"),
        );
        let term = match xs(node) {
            "sequence" | "choice" => {
                known_attrs(node, &["minOccurs", "maxOccurs"]);
                let items = node.children.iter().map(|c| self.particle(c)).collect();
                if xs(node) == "sequence" {
                    Term::Sequence(items)
                } else {
                    Term::Choice(items)
                }
            }
            "element" => {
                known_attrs(node, &["ref", "name", "type", "minOccurs", "maxOccurs"]);
                match node.attr("ref") {
                    Some(r) => Term::Element(r.to_owned()),
                    None => {
                        let name = self.element(node);
                        Term::Element(name)
                    }
                }
            }
            other => panic!("unsupported XSD particle <xs:{other}>"),
        };
        Particle { min, max, term }
    }

    /// Declares an element (global or local) and returns its name.
    fn element(&mut self, node: &Node) -> String {
        let name = node.attr("name").expect("a named element").to_owned();
        let content = match (node.attr("type"), node.children.as_slice()) {
            (Some(t), []) => self.type_named(t),
            (None, [t]) if t.name == "xs:complexType" => self.complex_type(t),
            _ => panic!("unsupported element declaration {node:?}"),
        };
        // The table keys elements by name alone: sound while a name declared twice (the
        // global and rerunType's local `system-out`) has the same plain string type each time.
        if let Some(previous) = self.elements.insert(name.clone(), content) {
            let plain = |c: &Content| matches!(c, Content::Simple(SimpleType::String));
            assert!(
                plain(&previous) && plain(&self.elements[&name]),
                "element {name:?} is declared twice with different types"
            );
        }
        name
    }
}

impl Schema {
    pub(crate) fn parse(xsd: &str) -> Schema {
        let root = parse(xsd).expect("the XSD is well-formed");
        assert_eq!(root.name, "xs:schema");
        assert_eq!(
            root.attr("xmlns:xs"),
            Some("http://www.w3.org/2001/XMLSchema")
        );
        assert!(
            root.attr("targetNamespace").is_none(),
            "namespaced schemas are not supported"
        );
        let mut reader = SchemaReader {
            simple: BTreeMap::new(),
            complex: BTreeMap::new(),
            elements: BTreeMap::new(),
        };
        for child in &root.children {
            match xs(child) {
                "simpleType" => {
                    let name = child.attr("name").expect("a named simpleType");
                    reader.simple.insert(name, SchemaReader::simple_type(child));
                }
                "complexType" => {
                    reader
                        .complex
                        .insert(child.attr("name").expect("a named complexType"), child);
                }
                "element" => {}
                other => panic!("unsupported top-level XSD construct <xs:{other}>"),
            }
        }
        let mut roots = BTreeSet::new();
        for child in root.children.iter().filter(|c| c.name == "xs:element") {
            known_attrs(child, &["name", "type"]);
            roots.insert(reader.element(child));
        }
        let schema = Schema {
            elements: reader.elements,
            roots,
        };
        for content in schema.elements.values() {
            if let Content::Complex { model: Some(m), .. } = content {
                schema.check_refs(m);
            }
        }
        schema
    }

    fn check_refs(&self, p: &Particle) {
        match &p.term {
            Term::Element(name) => assert!(
                self.elements.contains_key(name),
                "a ref to the undeclared element {name:?}"
            ),
            Term::Sequence(items) | Term::Choice(items) => {
                items.iter().for_each(|i| self.check_refs(i));
            }
        }
    }

    /// Every way the document breaks the schema; empty when it is valid.
    pub(crate) fn validate(&self, xml: &str) -> Vec<String> {
        let root = match parse(xml) {
            Ok(root) => root,
            Err(e) => return vec![e],
        };
        let mut errors = Vec::new();
        if self.roots.contains(&root.name) {
            self.element(&root, &format!("/{}", root.name), &mut errors);
        } else {
            errors.push(format!(
                "/{}: not a global element of the schema",
                root.name
            ));
        }
        errors
    }

    fn element(&self, node: &Node, path: &str, errors: &mut Vec<String>) {
        let Some(content) = self.elements.get(&node.name) else {
            errors.push(format!("{path}: undeclared element"));
            return;
        };
        match content {
            Content::Simple(ty) => {
                if !node.attrs.is_empty() {
                    errors.push(format!("{path}: a simple-typed element has attributes"));
                }
                if !node.children.is_empty() {
                    errors.push(format!("{path}: a simple-typed element has child elements"));
                }
                if let Err(e) = ty.check(&node.text) {
                    errors.push(format!("{path}: {e}"));
                }
            }
            Content::Complex {
                mixed,
                model,
                attributes,
            } => {
                for (key, value) in &node.attrs {
                    match attributes.iter().find(|a| &a.name == key) {
                        None => errors.push(format!("{path}: undeclared attribute {key:?}")),
                        Some(a) => {
                            if let Err(e) = a.ty.check(value) {
                                errors.push(format!("{path}/@{key}: {e}"));
                            }
                        }
                    }
                }
                for a in attributes.iter().filter(|a| a.required) {
                    if node.attr(&a.name).is_none() {
                        errors.push(format!(
                            "{path}: the required attribute {:?} is missing",
                            a.name
                        ));
                    }
                }
                if !mixed && !node.text.trim().is_empty() {
                    errors.push(format!("{path}: text in element-only content"));
                }
                let names: Vec<&str> = node.children.iter().map(|c| c.name.as_str()).collect();
                let fits = match model {
                    None => names.is_empty(),
                    Some(m) => ends(m, &names, 0).contains(&names.len()),
                };
                if !fits {
                    errors.push(format!(
                        "{path}: children {names:?} do not fit the content model"
                    ));
                }
                let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
                for child in &node.children {
                    let n = seen.entry(&child.name).or_default();
                    *n += 1;
                    if fits {
                        self.element(child, &format!("{path}/{}[{n}]", child.name), errors);
                    }
                }
            }
        }
    }
}

/// The positions in `names` where a match of `p` starting at `start` can end.
fn ends(p: &Particle, names: &[&str], start: usize) -> BTreeSet<usize> {
    let mut result = BTreeSet::new();
    if p.min == 0 {
        result.insert(start);
    }
    let mut frontier = BTreeSet::from([start]);
    let mut count = 0;
    while !frontier.is_empty() && p.max.is_none_or(|max| count < max) {
        count += 1;
        let next: BTreeSet<usize> = frontier
            .iter()
            .flat_map(|&s| term_ends(&p.term, names, s))
            .collect();
        if count >= p.min {
            let fresh: BTreeSet<usize> = next.difference(&result).copied().collect();
            if fresh.is_empty() {
                break;
            }
            result.extend(&fresh);
            frontier = fresh;
        } else {
            frontier = next;
        }
    }
    result
}

fn term_ends(t: &Term, names: &[&str], start: usize) -> BTreeSet<usize> {
    match t {
        Term::Element(name) => {
            if names.get(start) == Some(&name.as_str()) {
                BTreeSet::from([start + 1])
            } else {
                BTreeSet::new()
            }
        }
        Term::Sequence(items) => items.iter().fold(BTreeSet::from([start]), |at, item| {
            at.iter().flat_map(|&s| ends(item, names, s)).collect()
        }),
        Term::Choice(items) => items
            .iter()
            .flat_map(|item| ends(item, names, start))
            .collect(),
    }
}
