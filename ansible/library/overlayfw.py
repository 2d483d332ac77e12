#!/usr/bin/python
# -*- coding: utf-8 -*-
# overlayfw: an Ansible module that converges a managed host's nftables table to what its
# overlayfw rules files compile to. It runs the overlayfw binary on the managed host.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: overlayfw
short_description: Converge the overlayfw nftables table to rules files
description:
  - Compiles VNS3 iptables-style rules files with C(overlayfw) on the managed host and makes the
    live C(table ip TABLE) match them, replacing it in one kernel transaction. Every other table
    is left alone.
  - Idempotent. The module first runs C(overlayfw diff); only when the live table differs does it
    run C(overlayfw apply), so a second run reports C(changed=false).
  - In check mode only C(overlayfw diff) runs; C(changed) says whether the live table differs.
  - With C(--diff) the plan is returned (C(overlayfw diff) in human form as the diff, and its
    C(--format json) form as I(plan)).
  - Every command runs with the module's environment, so C(OVERLAYFW_STATE_DIR) and
    C(OVERLAYFW_PERSIST_DIR) can be set with the task's or play's C(environment) keyword.
version_added: "0.1.0"
author:
  - overlayfw contributors
requirements:
  - C(overlayfw) and C(nft) on the managed host; C(ip) (iproute2) when I(netns) is used
  - root on the managed host (C(become=true)) to read and replace the table
options:
  src:
    description:
      - Rules files on the managed host, compiled in the order given (as C(overlayfw apply FILE...)).
      - Required unless I(confirm_pending=true), which takes none.
    type: list
    elements: path
  inventory:
    description:
      - Topology inventories (YAML) on the managed host, each passed as C(--inventory), in order
        (a fleet's common file, then the router's). Later files add to earlier ones; changing an
        entry an earlier file gave is an error. A single path is accepted. Without it the stock
        VNS3 manager is assumed.
    type: list
    elements: path
  table:
    description: Name of the nft table (C(table ip NAME)).
    type: str
    default: overlayfw
  optimize:
    description: Apply (and compare with) what C(compile --optimize) makes of the files.
    type: bool
    default: false
  confirm:
    description:
      - Apply with C(--confirm SECONDS), between 1 and 86400. The module starts the apply, waits
        until the new table is live and the confirmation is pending, and returns with
        I(pending=true) without confirming. Unless C(overlayfw confirm) runs within SECONDS the
        previous table comes back by itself.
      - Confirm with a later task using I(confirm_pending=true), after C(ansible.builtin.meta) C(reset_connection),
        so that the confirmation can only arrive over a new connection through the new ruleset
        (see EXAMPLES). A host the new ruleset cuts off never gets the confirmation and rolls back.
      - Ignored in check mode and when the table already matches (nothing is applied then).
    type: int
  confirm_pending:
    description:
      - Confirm the pending C(apply --confirm) of I(table) (C(overlayfw confirm)); its watchdog
        then keeps the new table for the next boot. Nothing else is done; I(src) is not needed.
      - Fails when nothing is pending (the change was rolled back already, or confirmed by
        someone else) and when it comes too late (the previous table is being restored); either
        way the change the play made is not the one that stays.
    type: bool
    default: false
  netns:
    description:
      - Run every overlayfw command inside the named network namespace
        (C(ip netns exec NETNS overlayfw ...)), for namespaced routers and tests.
    type: str
  binary:
    description: Path (or name on C(PATH)) of the overlayfw program on the managed host.
    type: path
    default: overlayfw
notes:
  - Supports check mode and diff mode.
  - The exit codes of C(overlayfw diff) are used as documented there, 0 same, 1 differs, 2
    trouble; errors in the rules files (exit 1 of C(apply), or a diagnostic on standard error)
    fail the task with overlayfw's messages.
  - A successful apply also writes the table for the next boot (C($OVERLAYFW_PERSIST_DIR/TABLE.nft));
    with I(confirm), only once confirmed.
seealso:
  - name: overlayfw README
    description: The rule language, the safety of apply, the boot unit.
    link: https://github.com/overlayfw/overlayfw
'''

EXAMPLES = r'''
- name: Converge the firewall of every router
  become: true
  overlayfw:
    src:
      - /etc/overlayfw/common.rules
      - /etc/overlayfw/site.rules
    inventory: /etc/overlayfw/topology.yaml
    optimize: true

- name: A fleet's common inventory, then the router's own (merged in order)
  become: true
  overlayfw:
    src: [/etc/overlayfw/site.rules]
    inventory:
      - /etc/overlayfw/fleet.yaml
      - "/etc/overlayfw/{{ inventory_hostname }}.yaml"

- name: Only report drift (run the play with --check --diff to see the plan)
  overlayfw:
    src: [/etc/overlayfw/site.rules]
  check_mode: true
  register: drift

- name: A namespaced router
  overlayfw:
    src: [/etc/overlayfw/site.rules]
    netns: router7

- name: Apply with a safety net of 120 seconds
  overlayfw:
    src: [/etc/overlayfw/site.rules]
    confirm: 120
  register: fw

- name: Prove that a new connection still gets through the new ruleset
  meta: reset_connection

- name: Confirm (a host the new ruleset cut off never gets here, and rolls back by itself)
  overlayfw:
    confirm_pending: true
  when: fw.pending | default(false)
'''

RETURN = r'''
differs:
  description: Whether the live table differed from the rules before the task (diff exit 1).
  returned: when src is given
  type: bool
  sample: true
plan:
  description: The plan of C(overlayfw diff --format json) (what apply changes).
  returned: in diff mode, when src is given
  type: dict
pending:
  description: Whether an C(apply --confirm) is now waiting for its confirmation.
  returned: always
  type: bool
  sample: false
confirmed:
  description: Whether I(confirm_pending) confirmed a pending change.
  returned: when confirm_pending is true
  type: bool
cmd:
  description: The last overlayfw command run.
  returned: always
  type: list
  elements: str
stdout:
  description: Standard output of the last command.
  returned: always
  type: str
stderr:
  description: Standard error of the last command (overlayfw's messages).
  returned: always
  type: str
rc:
  description:
    - Exit code of the command that failed. Not returned on success, since C(overlayfw diff)
      exits 1 for "differs", which Ansible would take for a failure.
  returned: failure
  type: int
'''

import json
import os
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule


def prefix(module):
    """The command that runs overlayfw, inside the namespace when one is given."""
    binary = module.params['binary']
    if module.params['netns']:
        return ['ip', 'netns', 'exec', module.params['netns'], binary]
    return [binary]


def common_args(module):
    args = ['--table', module.params['table']]
    for inventory in module.params['inventory'] or []:
        args += ['--inventory', inventory]
    if module.params['optimize']:
        args.append('--optimize')
    return args


def run(module, result, cmd):
    rc, out, err = module.run_command(cmd)
    result.update(cmd=cmd, stdout=out, stderr=err)
    return rc, out, err


def diff(module, result, fmt):
    cmd = prefix(module) + ['diff', '--color', 'never', '--format', fmt] \
        + common_args(module) + ['--'] + module.params['src']
    rc, out, err = run(module, result, cmd)
    if rc not in (0, 1):
        module.fail_json(msg='overlayfw diff failed (exit %d): %s' % (rc, err.strip()), rc=rc,
                         **result)
    return rc == 1, out


def apply_confirmed(module, result):
    """Starts `apply --confirm N` detached (it waits for the watchdog until confirmed or
    rolled back, which outlives this module), and returns once the change is pending."""
    seconds = module.params['confirm']
    cmd = prefix(module) + ['apply', '--color', 'never', '--confirm', str(seconds)] \
        + common_args(module) + ['--'] + module.params['src']
    result['cmd'] = cmd
    log = tempfile.NamedTemporaryFile(prefix='overlayfw-apply-', suffix='.log', delete=False)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                close_fds=True, start_new_session=True)
    except OSError as e:
        os.unlink(log.name)
        module.fail_json(msg='cannot run %s: %s' % (cmd[0], e), **result)
    # The apply says "confirm within N s" once the new table is live and the change recorded
    # as pending; until then it may wait for the apply lock (another change of the table).
    while True:
        with open(log.name) as f:
            text = f.read()
        rc = proc.poll()
        if 'confirm within' in text:
            # The apply keeps writing to the file it holds open; nobody reads it any more.
            os.unlink(log.name)
            result.update(stdout='', stderr=text, pending=True)
            return
        if rc is not None:
            os.unlink(log.name)
            result.update(stdout='', stderr=text)
            module.fail_json(msg='overlayfw apply --confirm failed (exit %d): %s'
                             % (rc, text.strip()), rc=rc, **result)
        time.sleep(0.1)


def confirm_pending(module, result):
    cmd = prefix(module) + ['confirm', '--table', module.params['table']]
    rc, out, err = run(module, result, cmd)
    result['confirmed'] = rc == 0
    # `overlayfw confirm`: 0 confirmed, 1 too late (the previous table is being restored),
    # 2 nothing pending (or trouble).
    if rc == 0:
        result['changed'] = True
        module.exit_json(**result)
    if rc == 2 and 'is waiting for confirmation' in err:
        module.fail_json(msg='nothing to confirm: no apply of table ip %s is pending (it was rolled '
                         'back already, or confirmed by someone else); see `overlayfw diff`'
                         % module.params['table'], rc=rc, **result)
    module.fail_json(msg='overlayfw confirm failed (exit %d): %s' % (rc, err.strip()), rc=rc,
                     **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='list', elements='path'),
            inventory=dict(type='list', elements='path'),
            table=dict(type='str', default='overlayfw'),
            optimize=dict(type='bool', default=False),
            confirm=dict(type='int'),
            confirm_pending=dict(type='bool', default=False),
            netns=dict(type='str'),
            binary=dict(type='path', default='overlayfw'),
        ),
        mutually_exclusive=[('confirm', 'confirm_pending')],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, pending=False, cmd=[], stdout='', stderr='')
    if p['confirm'] is not None and not 1 <= p['confirm'] <= 86400:
        module.fail_json(msg='confirm must be between 1 and 86400 seconds', **result)
    if p['confirm_pending'] and p['src']:
        module.fail_json(msg='confirm_pending only confirms: give it no src', **result)
    if not p['confirm_pending'] and not p['src']:
        module.fail_json(msg='src (the rules files) is required', **result)
    # A clear error for a missing program (the same file system inside `ip netns exec`).
    if '/' in p['binary']:
        if not os.access(p['binary'], os.X_OK):
            module.fail_json(msg='%s is not an executable file' % p['binary'], **result)
    else:
        p['binary'] = module.get_bin_path(p['binary'], required=True)
    if p['netns']:
        module.get_bin_path('ip', required=True)

    if p['confirm_pending']:
        if module.check_mode:
            module.exit_json(**result)
        confirm_pending(module, result)

    differs, human = diff(module, result, 'human')
    result['differs'] = differs
    result['changed'] = differs
    if module._diff:
        _, text = diff(module, result, 'json')
        try:
            result['plan'] = json.loads(text)
        except ValueError:
            result['plan'] = text
        if differs:
            result['diff'] = dict(prepared=human)
    if not differs or module.check_mode:
        module.exit_json(**result)

    if p['confirm'] is not None:
        apply_confirmed(module, result)
    else:
        cmd = prefix(module) + ['apply', '--color', 'never', '--quiet'] \
            + common_args(module) + ['--'] + p['src']
        rc, out, err = run(module, result, cmd)
        if rc != 0:
            module.fail_json(msg='overlayfw apply failed (exit %d): %s' % (rc, err.strip()),
                             rc=rc, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
