package io.tollgate.gateway.catalog;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * A licence product's Ed25519 key pair, with the JDK's own provider (Java 15+). The public key is
 * written as base64 of its X.509 SubjectPublicKeyInfo DER, which Java ({@code
 * X509EncodedKeySpec}), Node ({@code crypto.createPublicKey({format:'der',type:'spki'})}) and
 * Python ({@code load_der_public_key}) load as it is; the private key as base64 of its PKCS#8 DER,
 * stored in its own table and never shown.
 */
public final class LicenceKeys {

  private LicenceKeys() {}

  static KeyPair generate() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK has no Ed25519", e);
    }
  }

  static String publicKeyText(PublicKey key) {
    return Base64.getEncoder().encodeToString(key.getEncoded());
  }

  static String privateKeyText(PrivateKey key) {
    return Base64.getEncoder().encodeToString(key.getEncoded());
  }

  static PrivateKey privateKey(String text) {
    try {
      return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(text)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalStateException("a stored licence key does not load: " + e.getClass().getSimpleName());
    }
  }

  /** Loads a public key as {@link Product.LicenceTerms#publicKey()} writes it. */
  public static PublicKey publicKey(String text) {
    try {
      return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(text)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException("not an Ed25519 public key: " + e.getClass().getSimpleName());
    }
  }
}
