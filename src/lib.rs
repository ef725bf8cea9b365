//! Your MCP server, built on mKit: the Worker's three entry points hand everything to the kit.
//! Your part is `src/tools/`: what the server is called and what it offers.

mod tools;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

static SERVER: mkit::Server = mkit::Server { info: tools::SERVER_INFO, registry: tools::registry };

#[event(start)]
fn start() {
    mkit::start(&SERVER);
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    mkit::fetch(req, env).await
}

/// The cron trigger (wrangler.jsonc `triggers`): the kit's housekeeping.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    mkit::scheduled(env).await;
}
