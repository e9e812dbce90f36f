//! Wi-Fi station bring-up: credentials baked in at build time, esp-radio's controller,
//! embassy-net with DHCP on top, and a task that keeps the link up.

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_time::{Duration, Timer};
use esp_hal::peripherals::WIFI;
use esp_hal::rng::Rng;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController,
};
use static_cell::StaticCell;

/// Sockets embassy-net can hold: the server's connection slots, plus DHCP, plus spare.
const SOCKETS: usize = 8;

/// How long to wait before trying an access point again after a failure or a drop.
const RETRY: Duration = Duration::from_secs(5);

/// The network to join, from `BERTH_WIFI_SSID` / `BERTH_WIFI_PASSWORD` at build time.
pub struct Credentials {
    /// The network's name.
    pub ssid: &'static str,
    /// Its WPA2 passphrase; `None` (variable unset or empty) joins an open network.
    pub password: Option<&'static str>,
}

/// The credentials built in, if `BERTH_WIFI_SSID` was set (and not empty) at build time.
pub fn credentials() -> Option<Credentials> {
    let ssid = option_env!("BERTH_WIFI_SSID").filter(|s| !s.is_empty())?;
    let password = option_env!("BERTH_WIFI_PASSWORD").filter(|p| !p.is_empty());
    Some(Credentials { ssid, password })
}

/// Why Wi-Fi could not start.
#[derive(Debug)]
pub enum WifiStartError {
    /// The SSID is longer than 32 bytes.
    Ssid,
    /// The password is longer than 64 bytes.
    Password,
    /// The driver refused to start.
    Driver(esp_radio::wifi::WifiError),
    /// The embassy executor had no room for a task.
    Spawn,
}

impl core::fmt::Display for WifiStartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WifiStartError::Ssid => f.write_str("BERTH_WIFI_SSID is longer than 32 bytes"),
            WifiStartError::Password => f.write_str("BERTH_WIFI_PASSWORD is longer than 64 bytes"),
            WifiStartError::Driver(e) => write!(f, "Wi-Fi driver: {e:?}"),
            WifiStartError::Spawn => f.write_str("no room for the network tasks"),
        }
    }
}

/// Starts the radio as a station of `creds`' network and embassy-net with DHCP, and
/// spawns the tasks that keep both running. The stack is up once
/// [`Stack::wait_config_up`] returns.
pub fn start(
    spawner: &Spawner,
    wifi: WIFI<'static>,
    creds: &Credentials,
) -> Result<Stack<'static>, WifiStartError> {
    let auth = match creds.password {
        Some(p) => AuthenticationMethodConfig::Wpa2Personal(
            p.try_into().map_err(|_| WifiStartError::Password)?,
        ),
        None => AuthenticationMethodConfig::Open,
    };
    let station = StationConfig::default()
        .with_ssid(creds.ssid.try_into().map_err(|_| WifiStartError::Ssid)?)
        .with_authentication(auth);
    let controller = WifiController::new(
        wifi,
        ControllerConfig::default().with_initial_config(Config::Station(station)),
    )
    .map_err(WifiStartError::Driver)?;

    // Drawn with the radio on, when the hardware RNG mixes in RF noise (TCP sequence
    // numbers and DHCP transaction ids come from this seed).
    let rng = Rng::new();
    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(keep_connected(controller).map_err(|_| WifiStartError::Spawn)?);
    spawner.spawn(run_stack(runner).map_err(|_| WifiStartError::Spawn)?);
    Ok(stack)
}

/// Joins the network, and joins it again whenever the link drops.
#[embassy_executor::task]
async fn keep_connected(mut controller: WifiController<'static>) {
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                println!("wifi: connected");
                match controller.wait_for_disconnect_async().await {
                    Ok(info) => println!("wifi: disconnected ({:?})", info.reason),
                    Err(e) => println!("wifi: link lost ({e:?})"),
                }
            }
            Err(e) => println!(
                "wifi: cannot connect: {e:?}; retrying in {} s",
                RETRY.as_secs()
            ),
        }
        Timer::after(RETRY).await;
    }
}

/// embassy-net's packet pump.
#[embassy_executor::task]
async fn run_stack(mut runner: Runner<'static, Interface>) {
    runner.run().await
}
