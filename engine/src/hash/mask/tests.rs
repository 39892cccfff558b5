use super::*;

#[test]
fn pointers_parse_with_escapes_and_wildcards() {
    let m = FieldMask::parse("/metadata/annotations/example.com~1build~0x").unwrap();
    assert_eq!(
        m.segments,
        vec![
            Segment::Key("metadata".into()),
            Segment::Key("annotations".into()),
            Segment::Key("example.com/build~x".into()),
        ]
    );
    assert_eq!(
        FieldMask::parse("/status/conditions/*/x").unwrap().segments[2],
        Segment::Any
    );
    assert_eq!(
        FieldMask::parse("metadata/x"),
        Err(MaskError::NoLeadingSlash("metadata/x".into()))
    );
    assert_eq!(
        FieldMask::parse("/metadata/"),
        Err(MaskError::EmptySegment("/metadata/".into()))
    );
    assert_eq!(
        FieldMask::parse("/a~2"),
        Err(MaskError::BadEscape("/a~2".into()))
    );
}

#[test]
fn a_map_the_mask_empties_is_removed_with_the_field() {
    let mask = FieldMask::parse("/status/mode").unwrap();
    let mut with_mode = serde_json::json!({"spec": {"x": 1}, "status": {"mode": "B"}});
    mask.remove(&mut with_mode);
    assert_eq!(with_mode, serde_json::json!({"spec": {"x": 1}}));
    let mut other_status = serde_json::json!({"status": {"mode": "B", "ready": true}});
    mask.remove(&mut other_status);
    assert_eq!(other_status, serde_json::json!({"status": {"ready": true}}));
    // A map that was empty before masking is content, and stays.
    let mut empty = serde_json::json!({"status": {}});
    mask.remove(&mut empty);
    assert_eq!(empty, serde_json::json!({"status": {}}));
}

#[test]
fn a_masked_list_element_keeps_the_list_length() {
    let mask = FieldMask::parse("/spec/items/*").unwrap();
    let mut v = serde_json::json!({"spec": {"items": [1, 2]}});
    mask.remove(&mut v);
    assert_eq!(v, serde_json::json!({"spec": {"items": [null, null]}}));
    let inner = FieldMask::parse("/status/conditions/*/observedGeneration").unwrap();
    let mut c =
        serde_json::json!({"status": {"conditions": [{"type": "Ready", "observedGeneration": 3}]}});
    inner.remove(&mut c);
    assert_eq!(
        c,
        serde_json::json!({"status": {"conditions": [{"type": "Ready"}]}})
    );
}
