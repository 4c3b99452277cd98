//! Release keys in HSMs over PKCS#11 (AWS CloudHSM, YubiHSM 2, Nitrokey, SoftHSM2): the key
//! signs the exact PAE with CKM_EDDSA (pure Ed25519) and never leaves the token. The PIN comes
//! from `IOT_ROOTS_PKCS11_PIN` or a prompt without echo, never from an argument (arguments are
//! visible to every user in the process list).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::PublicKey;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

/// The environment variable holding the token's user PIN.
pub(crate) const PIN_ENV: &str = "IOT_ROOTS_PKCS11_PIN";

/// A key in a PKCS#11 token.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    /// The HSM's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so,
    /// /opt/cloudhsm/lib/libcloudhsm_pkcs11.so, /usr/lib/x86_64-linux-gnu/libyubihsm_pkcs11.so.
    #[arg(long, value_name = "LIB", requires_all = ["token_label", "key_label"])]
    pub(crate) pkcs11_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub(crate) token_label: Option<String>,
    /// The Ed25519 key's label (CKA_LABEL of its private and public objects).
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub(crate) key_label: Option<String>,
}

/// An open session on the token, logged in, with the key found.
pub(crate) struct TokenKey {
    session: Session,
    private: ObjectHandle,
    public: PublicKey,
    label: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("label", &self.label)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn pin() -> anyhow::Result<AuthPin> {
    if let Ok(p) = std::env::var(PIN_ENV) {
        return Ok(AuthPin::from(p));
    }
    let p = rpassword::prompt_password("token PIN: ").with_context(|| {
        format!("no terminal to ask for the PIN: set {PIN_ENV} (never pass a PIN as an argument)")
    })?;
    Ok(AuthPin::from(p))
}

/// The 32-byte key from CKA_EC_POINT: a DER OCTET STRING (`04 20` and the key, as SoftHSM2
/// and CloudHSM return it), or the bare 32 bytes (as some modules do).
fn ec_point_key(point: &[u8]) -> Option<&[u8]> {
    match point {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => Some(rest),
        raw if raw.len() == 32 => Some(raw),
        _ => None,
    }
}

impl TokenKey {
    pub(crate) fn open(a: &TokenArgs) -> anyhow::Result<Self> {
        let (Some(module), Some(token), Some(label)) =
            (&a.pkcs11_module, &a.token_label, &a.key_label)
        else {
            bail!("give --pkcs11-module, --token-label and --key-label");
        };
        let ctx = Pkcs11::new(module)
            .with_context(|| format!("{}: not a PKCS#11 module", module.display()))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .with_context(|| format!("{}: initialize", module.display()))?;
        let mut slot = None;
        for s in ctx.get_slots_with_token().context("list slots")? {
            if ctx.get_token_info(s).context("token info")?.label() == token {
                slot = Some(s);
                break;
            }
        }
        let slot =
            slot.with_context(|| format!("no token labelled {token:?} in {}", module.display()))?;
        let session = ctx.open_ro_session(slot).context("open a session")?;
        session
            .login(UserType::User, Some(&pin()?))
            .with_context(|| format!("log in to token {token:?} (wrong PIN?)"))?;
        let find = |class| {
            session.find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
        };
        let private = match find(ObjectClass::PRIVATE_KEY).context("find the private key")?[..] {
            [k] => k,
            [] => bail!("token {token:?} has no private key labelled {label:?}"),
            _ => bail!("token {token:?} has several private keys labelled {label:?}"),
        };
        let public_obj = match find(ObjectClass::PUBLIC_KEY).context("find the public key")?[..] {
            [k] => k,
            [] => bail!("token {token:?} has no public key labelled {label:?}"),
            _ => bail!("token {token:?} has several public keys labelled {label:?}"),
        };
        let attrs = session
            .get_attributes(public_obj, &[AttributeType::EcPoint])
            .context("read CKA_EC_POINT")?;
        let point = attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .with_context(|| {
                format!("key {label:?} has no CKA_EC_POINT: not an EC or EdDSA key")
            })?;
        let raw = ec_point_key(&point).with_context(|| {
            format!(
                "key {label:?} is not an Ed25519 key (CKA_EC_POINT of {} bytes)",
                point.len()
            )
        })?;
        let public = PublicKey::from_bytes(raw)
            .with_context(|| format!("key {label:?}: its public key is not usable"))?;
        Ok(Self {
            session,
            private,
            public,
            label: label.clone(),
        })
    }

    pub(crate) fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Pure Ed25519 (CKM_EDDSA without parameters) over `message`: the PAE, as AWS KMS and
    /// `openssl pkeyutl -rawin` sign it.
    pub(crate) fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        self.session
            .sign(&mechanism, self.private, message)
            .with_context(|| format!("sign with token key {:?} (CKM_EDDSA)", self.label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_is_read_in_both_encodings() {
        let key = [7u8; 32];
        let mut der = vec![0x04, 0x20];
        der.extend_from_slice(&key);
        assert_eq!(ec_point_key(&der), Some(&key[..]));
        assert_eq!(ec_point_key(&key), Some(&key[..]));
        assert_eq!(ec_point_key(&der[..33]), None);
        assert_eq!(ec_point_key(&[0x04; 65]), None);
    }
}
