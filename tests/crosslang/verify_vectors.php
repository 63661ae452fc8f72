<?php
// Independent check of the Punctual signing vectors with PHP's hash_hmac and hash_equals,
// as the product page's PHP example uses them.
// Usage: php verify_vectors.php path/to/signing-vectors.json
// Prints one JSON line per vector: {"name", "signature", "body_length", "accepted"}.
declare(strict_types=1);

$doc = json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
foreach ($doc['vectors'] as $v) {
    if (array_key_exists('body_hex', $v)) {
        $body = hex2bin($v['body_hex']);
    } else {
        $body = str_repeat(hex2bin($v['body_repeat']['unit_hex']), $v['body_repeat']['times']);
    }
    if (array_key_exists('header_repeat', $v)) {
        $header = str_repeat($v['header_repeat']['unit'], $v['header_repeat']['times']);
    } else {
        $header = $v['header']; // a string, or null for a missing header
    }
    // json_decode yields the secret as its UTF-8 bytes, which is the key the scheme uses.
    $expected = hash_hmac('sha256', $body, $v['secret']);
    // hash_equals(known, user) throws a TypeError on null: a missing header must be
    // rejected before comparing (the product page's example does not do this).
    $accepted = is_string($header) && hash_equals($expected, $header);
    echo json_encode([
        'name' => $v['name'],
        'signature' => $expected,
        'body_length' => strlen($body),
        'accepted' => $accepted,
    ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES), "\n";
}
