package kind

// Drill D, webhook reroute: the region fails as in drill B (its runbook),
// and its webhooks must come from the survivor alone, none twice, none
// missing.
type webhookReroute struct{ hardOutage }

func init() { Register(webhookReroute{}) }

func (webhookReroute) Info() Info {
	info := hardOutage{}.Info()
	info.Letter, info.Name = "D", "webhook_reroute"
	info.Description = "webhook and egress reroute: fail the region, deliver webhooks only from the survivor, no duplicates"
	info.Sink = "reconciles webhook deliveries"
	info.Targets = []Target{Webhooks}
	return info
}
